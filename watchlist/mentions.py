"""An article's mentions: the (cluster, term) rows the watch-list gives it.

One pure function for everyone who writes mention rows: the store pipeline at ingest
(``spiders.crawler.store``) and rematch over the archive (``archive.rematch``) must agree exactly,
or a rematch with an unchanged watch-list would rewrite history.

The matcher is anything shaped like ``watchlist.matcher.Watchlist`` (``Matcher``), so
callers need not import the watch-list itself and tests can pass a stand-in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

MentionKey = tuple[str, str]
"""(cluster, term)."""

CLUSTER_LENGTH = 200
"""``Mention.cluster`` is a VARCHAR(200)."""
TERM_LENGTH = 500
"""``Mention.term`` is a VARCHAR(500)."""


class ClusterMatchLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def terms(self) -> tuple[str, ...]: ...
    @property
    def hits(self) -> int: ...


class Matcher(Protocol):
    """What mention building needs of ``watchlist.matcher.Watchlist``."""

    def match(self, text: str, title: str = "") -> Sequence[ClusterMatchLike]: ...


def matchable_text(text: str | None, summary: str | None) -> str:
    """What the matcher reads besides the title: the body text, else the feed's summary."""
    return text or summary or ""


def mention_rows(
    matcher: Matcher, title: str | None, text: str | None, summary: str | None = None
) -> dict[MentionKey, int]:
    """(cluster, term) -> hits for one article; ``hits`` is the cluster's hit count (the
    matcher counts hits per cluster, not per term). Names are cut to their column widths."""
    rows: dict[MentionKey, int] = {}
    for match in matcher.match(matchable_text(text, summary), title or ""):
        for term in dict.fromkeys(match.terms):
            rows[(match.name[:CLUSTER_LENGTH], term[:TERM_LENGTH])] = match.hits
    return rows
