"""The finished backfill windows (table ``backfill_windows``, migration 0008): read before a
run to skip them, written only once a window's articles are stored.

GDELT's rows are per cluster (``scope``: the ``--source`` or ""); a source's own walk (a
Telegram channel's pages, a sitemap's entries) is recorded under the cluster ``@telegram``
or ``@sitemap`` (``spiders.backfill.spans``) with the source's name as its scope."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from spiders.backfill.gdelt import Window
from storage.models import Article, Source

_metadata = sa.MetaData()

backfill_windows = sa.Table(
    "backfill_windows",
    _metadata,
    sa.Column("cluster", sa.String(200), primary_key=True),
    sa.Column("scope", sa.String(200), primary_key=True),
    sa.Column("start", sa.DateTime, primary_key=True),
    sa.Column("end", sa.DateTime, primary_key=True),
    sa.Column("articles", sa.Integer, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=False),
)


def finished_windows(session: Session, cluster: str, scope: str) -> list[Window]:
    rows = session.execute(
        sa.select(backfill_windows.c.start, backfill_windows.c.end).where(
            backfill_windows.c.cluster == cluster, backfill_windows.c.scope == scope
        )
    )
    return [Window(start, end) for start, end in rows]


def record_windows(
    session: Session,
    cluster: str,
    scope: str,
    done: Iterable[tuple[Window, int]],
    now: datetime,
) -> None:
    """Mark ``done`` windows (each with its article count) finished; one already marked
    (another run finished it meanwhile) is left as it is."""
    known = set(finished_windows(session, cluster, scope))
    rows = [
        {
            "cluster": cluster,
            "scope": scope,
            "start": window.start,
            "end": window.end,
            "articles": articles,
            "finished_at": now,
        }
        for window, articles in done
        if window not in known
    ]
    if rows:
        session.execute(backfill_windows.insert(), rows)


def still_to_do(planned: Iterable[Window], finished: Iterable[Window]) -> list[Window]:
    """The parts of the planned windows no finished window covers (a split window's halves
    cover it; a later run's plan, shifted by a few hours, asks only for the new tail)."""
    spans = sorted(finished)
    out = []
    for window in planned:
        cursor = window.start
        for span in spans:
            if span.end <= cursor or span.start >= window.end:
                continue
            if span.start > cursor:
                out.append(Window(cursor, span.start))
            cursor = max(cursor, span.end)
        if cursor < window.end:
            out.append(Window(cursor, window.end))
    return out


def resume_post(session: Session, source: str, channel: str, moment: datetime) -> int | None:
    """The id of ``source``'s oldest stored post of ``channel`` published at or after
    ``moment``: where a walk resumes (``?before=`` it) past a stretch already finished."""
    rows = session.execute(
        sa.select(Article.url)
        .join(Source, Article.source_id == Source.id)
        .where(
            Source.name == source,
            Article.published_at >= moment,
            Article.url.like(f"%/{channel}/%"),
        )
        .order_by(Article.published_at, Article.id)
        .limit(20)
    )
    ids = [post_id for (url,) in rows if (post_id := _post_id(url, channel)) is not None]
    return min(ids, default=None)


def _post_id(url: str, channel: str) -> int | None:
    head, _, number = url.rstrip("/").rpartition("/")
    if not head.endswith(f"/{channel}") or not number.isdigit() or len(number) > 18:
        return None
    return int(number)
