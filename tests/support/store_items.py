"""What the article store tests share: two article texts, a stand-in watch-list, an item
builder, and a reader of the stored articles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import Engine, select

from spiders.crawler.items import ArticleItem
from spiders.crawler.store import ArticleStore
from storage.engine import session_factory
from storage.models import Article

TEXT = " ".join(
    f"Sentence {n} says the Popular Mobilization Forces want the Interior Ministry in Baghdad."
    for n in range(12)
)
FEED = "https://wire.example/feed.json"
OTHER_TEXT = " ".join(
    f"Paragraph {n} reports that Peshmerga units reinforced positions near Kirkuk overnight."
    for n in range(12)
)


@dataclass(frozen=True)
class Match:
    name: str
    terms: tuple[str, ...]
    hits: int


class StandInWatchlist:
    """Finds fixed terms by substring: enough to check what the store does with matches."""

    clusters: ClassVar[dict[str, tuple[str, ...]]] = {
        "Interior Ministry": ("Interior Ministry",),
        "PMF": ("Popular Mobilization Forces", "Hashd"),
    }

    def match(self, text: str, title: str = "") -> Sequence[Match]:
        found = []
        for name, terms in self.clusters.items():
            seen = tuple(term for term in terms if term in f"{title}\n{text}")
            if seen:
                found.append(Match(name, seen, sum(f"{title}\n{text}".count(t) for t in seen)))
        return found


def item(url: str, now: datetime, **fields: object) -> ArticleItem:
    values: dict[str, object] = {
        "source_name": "Wire feed",
        "publisher": "wire.example",
        "fetched_at": now,
        "title": "Militias press for control of Iraq's Interior Ministry",
        "text": TEXT,
        "published_at": now - timedelta(hours=2),
    }
    values.update(fields)
    return ArticleItem(url=url, **values)  # type: ignore[arg-type]


def make_store(engine: Engine, now: datetime) -> ArticleStore:
    return ArticleStore(session_factory(engine), StandInWatchlist(), lambda: now)


def articles(engine: Engine) -> list[Article]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(Article).order_by(Article.id)))
