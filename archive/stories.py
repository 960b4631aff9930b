"""One article as the desk shows it: with every copy of its story and its mentions."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, load_only, selectinload

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


def story_articles(session: Session, stories: Collection[int]) -> dict[int, list[Article]]:
    """Every article of each of ``stories`` (those whose ``story_id`` is it, and the
    article with its id), oldest first, read in one query: the desk's cluster page folds
    these under its headlines. Only what a listing shows is loaded (no body text)."""
    wanted = set(stories)
    found: dict[int, list[Article]] = {story: [] for story in wanted}
    if not wanted:
        return found
    articles = session.scalars(
        select(Article)
        .where(or_(Article.story_id.in_(wanted), Article.id.in_(wanted)))
        .options(
            load_only(
                Article.id, Article.url, Article.title, Article.publisher,
                Article.language, Article.seen_at, Article.story_id,
            )
        )
        .order_by(Article.seen_at, Article.id)
    )  # fmt: skip
    for article in articles:
        for story in {article.story_id or article.id, article.id} & wanted:
            found[story].append(article)
    return found
