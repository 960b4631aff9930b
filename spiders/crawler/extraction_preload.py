"""Imported by the extraction workers' forkserver (``spiders.crawler.extraction``), never by
the crawl itself: the extractors and the language model are loaded and warmed once, there,
so each worker forks with them in memory instead of loading the model on its own (half a
second of CPU per worker, at the start of every crawl that has pages to extract)."""

from spiders.crawler.extraction import warm_up

warm_up()
