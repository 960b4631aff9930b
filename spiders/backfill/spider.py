"""The news spider asked to follow a given list of entries instead of polling its sources:
backfilled URLs get the crawl's own fetching, extraction and store (dedupe, match)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import scrapy

from spiders.crawler.news import NewsSpider
from spiders.parsing.feeds import FeedEntry


class ListedSpider(NewsSpider):
    """Each job's ``entries`` followed as if its feed had just listed them (what is stored
    already is skipped, as on a poll); no source document is requested."""

    name = "mediawatch-backfill"

    def __init__(self, entries: Mapping[str, Sequence[FeedEntry]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entries = entries

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for job in self.jobs:
            for request in self._follow(job, job.url, self.entries.get(job.name, ())):
                yield request
