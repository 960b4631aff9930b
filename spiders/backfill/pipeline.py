"""The ledger's Scrapy pipeline: a channel's page is recorded as finished only once its
posts are written.

The spider yields a page's posts, then its ``PageDone``, then the request for the next
page; items pass the pipelines in order, after the store's (``ITEM_PIPELINES`` 300 <
400), so when a ``PageDone`` arrives here its posts are in the store's buffer: flushing
it first makes "recorded" imply "stored", and a run killed between the two leaves the page
to do (the next run finds its posts stored and skips them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from spiders.backfill.gdelt import Window
from spiders.backfill.ledger import record_windows
from spiders.crawler.store_pipeline import StoreBound
from storage.engine import error_reason, transaction

logger = logging.getLogger(__name__)

ORDER = 400


@dataclass(frozen=True)
class PageDone:
    """An item: ``source``'s walk has seen ``covered`` whole (``found`` posts to store)."""

    source: str
    marker: str
    covered: Window
    found: int


class LedgerPipeline(StoreBound):
    """Records a walked page in the ledger once the store has written its posts."""

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if not isinstance(item, PageDone):
            return item
        self.store.flush()
        if self.store.counts[item.source].failed:
            logger.warning("source %s: some posts were not stored; page left to do", item.source)
            return item
        try:
            with transaction(self.store.session_factory) as session:
                done = [(item.covered, item.found)]
                record_windows(session, item.marker, item.source, done, self.store.now_fn())
        except SQLAlchemyError as exc:  # the posts are stored; the next run skips them
            logger.warning("source %s: progress not recorded: %s", item.source, error_reason(exc))
        return item
