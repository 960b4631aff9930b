"""Re-match the stored archive against the current watch-list.

When the watch-list changes (a new alias, a new cluster, a stricter context), the
mentions of stored articles are recomputed so that history, reports and the detector's
baselines reflect it. Articles are read in id order, ``batch`` at a time; each batch
is one transaction, so an interrupted rematch leaves every article either old or new,
and running it again finishes the job. Only articles whose mentions change are written
(their mention rows are replaced). The rows wanted are the store pipeline's, from the
same function (``watchlist.mentions.mention_rows``).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from storage.engine import transaction
from storage.models import Article, Mention
from watchlist.mentions import Matcher, MentionKey, mention_rows

logger = logging.getLogger(__name__)

BATCH = 1_000


@dataclass
class RematchResult:
    checked: int = 0
    """Articles read."""
    changed: int = 0
    """Articles whose mentions were replaced."""
    kept: int = 0
    """Articles whose body text retention dropped: their mentions stay as they were, since
    matching the title and summary alone would rewrite history."""
    added: Counter[str] = field(default_factory=Counter)
    """Per cluster, articles that count for it now and did not before."""
    removed: Counter[str] = field(default_factory=Counter)
    """Per cluster, articles that counted for it and no longer do."""
    retermed: Counter[str] = field(default_factory=Counter)
    """Per cluster, articles still counted but for other terms or hit counts."""

    def rows(self) -> list[dict[str, object]]:
        """One row per cluster that changed, by name."""
        names = sorted(set(self.added) | set(self.removed) | set(self.retermed))
        return [
            {
                "cluster": name,
                "added": self.added[name],
                "removed": self.removed[name],
                "retermed": self.retermed[name],
            }
            for name in names
        ]


def rematch(
    factory: sessionmaker[Session],
    matcher: Matcher,
    *,
    since: datetime | None = None,
    batch: int = BATCH,
    progress: Callable[[RematchResult], None] | None = None,
) -> RematchResult:
    """Recompute the mentions of every article (seen since ``since``); see the module doc."""
    result = RematchResult()
    last_id = 0
    while True:
        with transaction(factory) as session:
            last = _rematch_batch(session, matcher, since, last_id, batch, result)
        if last is None:
            break
        last_id = last
        if progress is not None:
            progress(result)
    logger.info("rematch: %d articles checked, %d changed", result.checked, result.changed)
    return result


def _rematch_batch(
    session: Session,
    matcher: Matcher,
    since: datetime | None,
    after: int,
    batch: int,
    result: RematchResult,
) -> int | None:
    query = (
        select(
            Article.id,
            Article.title,
            Article.text,
            Article.summary,
            Article.extracted,
            Article.seen_at,
            Article.story_id,
        )
        .where(Article.id > after)
        .order_by(Article.id)
        .limit(batch)
    )
    if since is not None:
        query = query.where(Article.seen_at >= since)
    articles = session.execute(query).all()
    if not articles:
        return None
    ids = [row.id for row in articles]
    stored: dict[int, dict[MentionKey, int]] = defaultdict(dict)
    for article_id, cluster, term, hits in session.execute(
        select(Mention.article_id, Mention.cluster, Mention.term, Mention.hits).where(
            Mention.article_id.in_(ids)
        )
    ):
        stored[article_id][(cluster, term)] = hits
    replace: list[int] = []
    rows: list[dict[str, object]] = []
    for article in articles:
        result.checked += 1
        if article.extracted and article.text is None:
            result.kept += 1
            continue
        wanted = mention_rows(matcher, article.title, article.text, article.summary)
        before = stored.get(article.id, {})
        if wanted == before:
            continue
        replace.append(article.id)
        _count_change(result, before, wanted)
        story_id = article.story_id or article.id
        rows.extend(
            {
                "article_id": article.id,
                "cluster": cluster,
                "term": term,
                "hits": hits,
                "seen_at": article.seen_at,
                "story_id": story_id,
            }
            for (cluster, term), hits in wanted.items()
        )
    if replace:
        session.execute(delete(Mention).where(Mention.article_id.in_(replace)))
        if rows:
            session.execute(insert(Mention), rows)
        result.changed += len(replace)
    return ids[-1]


def _count_change(
    result: RematchResult, before: dict[MentionKey, int], wanted: dict[MentionKey, int]
) -> None:
    old = {cluster for cluster, _ in before}
    new = {cluster for cluster, _ in wanted}
    for cluster in new - old:
        result.added[cluster] += 1
    for cluster in old - new:
        result.removed[cluster] += 1
    for cluster in old & new:
        mine = {key: hits for key, hits in before.items() if key[0] == cluster}
        theirs = {key: hits for key, hits in wanted.items() if key[0] == cluster}
        if mine != theirs:
            result.retermed[cluster] += 1
