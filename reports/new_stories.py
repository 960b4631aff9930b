"""A cluster's newest stories, one per story with its copies folded in: what its Atom feed lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Article, Mention

SUMMARY_CHARS = 600
"""Of an article's text, when it has no summary."""


@dataclass(frozen=True)
class NewStory:
    """A story of a cluster as its feed shows it: its first article there, and its reach."""

    anchor_url: str
    """The URL of the story's own first article (its ``story_id``): a key that never changes."""
    title: str
    url: str
    publisher: str
    language: str | None
    published_at: datetime | None
    first_seen: datetime
    last_seen: datetime
    summary: str
    publishers: tuple[str, ...]
    copies: int


def newest_stories(session: Session, cluster: str, limit: int) -> list[NewStory]:
    """The cluster's ``limit`` stories first seen last, newest first; each shown by its
    earliest article in the cluster, with every publisher that carried it."""
    story = func.coalesce(Mention.story_id, Mention.article_id)
    first_seen = func.min(Mention.seen_at)
    newest = session.execute(
        select(story, first_seen)
        .where(Mention.cluster == cluster)
        .group_by(story)
        .order_by(first_seen.desc(), story.desc())
        .limit(limit)
    ).all()
    ids = [int(row[0]) for row in newest]
    if not ids:
        return []
    in_cluster = select(Mention.article_id).where(Mention.cluster == cluster, story.in_(ids))
    copies: dict[int, list[Any]] = {story_id: [] for story_id in ids}
    for row in session.execute(
        select(
            func.coalesce(Article.story_id, Article.id).label("story"),
            Article.id,
            Article.url,
            Article.title,
            Article.publisher,
            Article.language,
            Article.published_at,
            Article.seen_at,
        )
        .where(Article.id.in_(in_cluster))
        .order_by(Article.seen_at, Article.id)
    ):
        copies[int(row.story)].append(row)
    anchors = {
        row.id: row.url
        for row in session.execute(select(Article.id, Article.url).where(Article.id.in_(ids)))
    }
    firsts = [rows[0].id for rows in copies.values() if rows]
    texts = {
        row.id: row.summary or row.text or ""
        for row in session.execute(
            select(
                Article.id,
                Article.summary,
                func.substr(Article.text, 1, SUMMARY_CHARS).label("text"),
            ).where(Article.id.in_(firsts))
        )
    }
    stories = []
    for story_id in ids:
        rows = copies[story_id]
        if not rows:  # its mentions outlived the articles (a race with a rematch)
            continue
        first = rows[0]
        stories.append(
            NewStory(
                anchor_url=anchors.get(story_id, first.url),
                title=first.title,
                url=first.url,
                publisher=first.publisher,
                language=first.language,
                published_at=first.published_at,
                first_seen=first.seen_at,
                last_seen=max(row.seen_at for row in rows),
                summary=texts.get(first.id, ""),
                publishers=tuple(dict.fromkeys(row.publisher for row in rows)),
                copies=len(rows),
            )
        )
    return stories
