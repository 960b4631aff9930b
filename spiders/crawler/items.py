"""What the spiders hand to the pipeline: one article as fetched, before dedupe and matching."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from watchlist.mentions import MentionKey


@dataclass(frozen=True)
class ArticleAnalysis:
    """An article's dedupe hashes and mentions, and the tidied fields they came from
    (``spiders.crawler.analysis`` computes them, in the extraction workers)."""

    title: str
    text: str | None
    summary: str | None
    title_hash: str | None
    simhash: int | None
    mentions: dict[MentionKey, int] | None
    """None when no watch-list was at hand (the store matches the article itself)."""

    def describes(self, item: ArticleItem) -> bool:
        """Whether this was computed over ``item``'s (tidied) title, text and summary."""
        return item.title == self.title and item.text == self.text and item.summary == self.summary


@dataclass
class ArticleItem:
    """One new entry, fetched and extracted (or standing in with the feed's title/summary).

    Times are naive UTC. ``url`` is already canonical."""

    url: str
    source_name: str
    """The configured source that led here (a feed, sitemap or aggregator)."""
    publisher: str
    """The real publisher: an aggregator item's ``<source>``, else the final URL's site."""
    fetched_at: datetime
    title: str = ""
    text: str | None = None
    summary: str | None = None
    author: str | None = None
    language: str | None = None
    published_at: datetime | None = None
    extracted: bool = True
    """False when the page could not be had or extracted and the feed's fields stand in."""
    views: int | None = None
    """A Telegram post's view count, as its page showed it."""
    listed_url: str | None = None
    """The (canonical) URL the source listed and the page was fetched from, when known.
    When it differs from ``url`` (the page's ``rel=canonical`` or final redirect URL),
    the store records it as an alias of the article, so it is not fetched again."""
    analysis: ArticleAnalysis | None = field(default=None, compare=False, repr=False)
    """The dedupe hashes and mentions its extraction worker computed, if any (the store
    uses them only if they describe this item: ``spiders.crawler.analysis``)."""
