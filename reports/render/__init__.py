"""Renderers of a ``TrendReport``: terminal table, CSV/JSON rows, PNG chart, HTML page.

Every renderer is a function of the report (and options) returning text or bytes; the
CLI decides where it goes. Scraped text (titles, publishers) is escaped by the HTML
renderer and never becomes rich markup in the terminal.
"""
