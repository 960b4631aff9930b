"""One article as the desk shows it: with every copy of its story and its mentions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from storage.models import Article, Mention


@dataclass(frozen=True)
class StoryView:
    article: Article
    copies: tuple[Article, ...]
    """The other articles of the story, oldest first (the first is the story's original)."""
    mentions: tuple[Mention, ...]


def article_with_story(session: Session, article_id: int) -> StoryView | None:
    """``article_id`` with its story's copies and its mentions; None when there is none."""
    article = session.scalar(
        select(Article)
        .where(Article.id == article_id)
        .options(selectinload(Article.source), selectinload(Article.mentions))
    )
    if article is None:
        return None
    story = article.story_id or article.id
    copies = session.scalars(
        select(Article)
        .where(func.coalesce(Article.story_id, Article.id) == story, Article.id != article.id)
        .options(selectinload(Article.source))
        .order_by(Article.seen_at, Article.id)
    )
    mentions = sorted(article.mentions, key=lambda m: (m.cluster, m.term))
    return StoryView(article, tuple(copies), tuple(mentions))
