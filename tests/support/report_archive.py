"""A small archive for report, search and rematch tests: articles stored as the store
pipeline stores them (mentions from ``watchlist.mentions.mention_rows``, story ids,
seen_at)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from config.models import ClusterConfig
from storage.engine import session_factory, transaction
from storage.models import Article, Mention, Source
from watchlist.matcher import Watchlist
from watchlist.mentions import mention_rows

CLUSTERS = (
    ClusterConfig(
        name="PMF",
        terms=("Popular Mobilization Forces", "Hashd al-Shaabi", "PMF", "الحشد الشعبي"),
    ),
    ClusterConfig(
        name="Interior Ministry",
        terms=("Interior Ministry", "Ministry of Interior", "وزارة الداخلية"),
        context=("Iraq", "Baghdad", "العراق", "بغداد"),
    ),
    ClusterConfig(name="Hezbollah", terms=("Hezbollah", "Nasrallah", "حزب الله")),
    ClusterConfig(name="Khazali", terms=("Qais al-Khazali", "Asa'ib Ahl al-Haq")),
    ClusterConfig(name="Kataib Hezbollah", terms=("Kata'ib Hezbollah",)),
)


@dataclass
class Archive:
    engine: Engine
    watchlist: Watchlist
    sources: dict[str, int]

    def add(
        self,
        title: str,
        text: str,
        seen_at: datetime,
        *,
        publisher: str = "example.org",
        language: str | None = "en",
        source: str | None = None,
        copy_of: int | None = None,
        summary: str | None = None,
    ) -> int:
        """Store one article (and its mentions); returns its id."""
        with transaction(session_factory(self.engine)) as session:
            article = Article(
                url=f"https://{publisher}/{len(title)}-{seen_at:%Y%m%d%H%M%S}-{id(title)}",
                source_id=self.sources.get(source) if source else None,
                publisher=publisher,
                title=title,
                text=text,
                summary=summary,
                language=language,
                published_at=seen_at,
                fetched_at=seen_at,
                seen_at=seen_at,
                duplicate_of_id=copy_of,
            )
            session.add(article)
            session.flush()
            story = _story_of(session, copy_of) if copy_of else article.id
            article.story_id = story
            session.add_all(
                Mention(
                    article_id=article.id,
                    cluster=cluster,
                    term=term,
                    hits=hits,
                    seen_at=seen_at,
                    story_id=story,
                )
                for (cluster, term), hits in mention_rows(
                    self.watchlist, title, text, summary
                ).items()
            )
            return article.id


def _story_of(session: Session, article_id: int) -> int:
    story = session.scalar(select(Article.story_id).where(Article.id == article_id))
    return story or article_id


def make_archive(
    engine: Engine, clusters: Sequence[ClusterConfig] = CLUSTERS, now: datetime | None = None
) -> Archive:
    created = now or datetime(2026, 1, 1)
    with transaction(session_factory(engine)) as session:
        for name in ("Rudaw", "Shafaq"):
            session.add(
                Source(
                    name=name,
                    url=f"https://{name.lower()}.example/rss",
                    kind="feed",
                    enabled=True,
                    interval_seconds=900,
                    next_poll_at=created,
                    created_at=created,
                    consecutive_failures=0,
                    healthy=True,
                )
            )
    with session_factory(engine)() as session:
        sources = {s.name: s.id for s in session.scalars(select(Source))}
    return Archive(engine, Watchlist(clusters), sources)


def config_toml(db_url: str, clusters: Sequence[ClusterConfig] = CLUSTERS) -> str:
    """A config.toml with ``clusters``, storing in ``db_url``."""
    import json

    lines = ["[storage]", f"url = {json.dumps(db_url)}", ""]
    for cluster in clusters:
        lines += ["[[clusters]]", f"name = {json.dumps(cluster.name)}"]
        lines.append(f"terms = {json.dumps(list(cluster.terms), ensure_ascii=False)}")
        if cluster.context:
            lines.append(f"context = {json.dumps(list(cluster.context), ensure_ascii=False)}")
        lines.append("")
    return "\n".join(lines)
