"""A source's own history walked during a backfill (a Telegram channel's ``?before=`` pages,
a sitemap index's dated children): what to walk, read from the ledger before the run,
and the sitemap spans recorded after it.

A channel records each page as finished as soon as its posts are stored
(``spiders.backfill.pipeline``), so a run killed half-way resumes where it stopped; a
sitemap's span is recorded once the whole walk (every child, every article) is done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from spiders.backfill.gdelt import Window
from spiders.backfill.ledger import finished_windows, record_windows, still_to_do
from spiders.backfill.spans import SITEMAP, TELEGRAM, source_span
from spiders.crawler.jobs import SourceJob
from storage.engine import transaction

WALKED_KINDS = {"telegram": TELEGRAM, "sitemap": SITEMAP}
"""Source kinds a backfill walks, and their ledger marker."""


@dataclass
class Walk:
    """One source's walk: planned here, advanced by ``BackfillSpider``."""

    job: SourceJob
    span: Window
    gaps: list[Window]
    upper: datetime
    """A channel's walk has seen everything between the current page and this moment."""
    pages: int = 0
    found: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    reached: datetime | None = None
    ended: bool = False
    """A channel's first post was reached."""
    last_before: int | None = None

    @property
    def marker(self) -> str:
        return WALKED_KINDS[self.job.kind]

    @property
    def failed(self) -> bool:
        return bool(self.errors)


def plan_walks(
    session: Session, jobs: list[SourceJob], now: datetime, since: timedelta, recent: timedelta
) -> tuple[list[Walk], list[str]]:
    """The walks still to do for ``jobs`` of a walked kind, and the names of those that
    have nothing left (their span is finished)."""
    span = source_span(now, since, recent)
    walks: list[Walk] = []
    done: list[str] = []
    for job in jobs:
        if job.kind not in WALKED_KINDS:
            continue
        finished = finished_windows(session, WALKED_KINDS[job.kind], job.name)
        gaps = still_to_do([span], finished)
        if gaps:
            walks.append(Walk(job, span, gaps, span.end))
        else:
            done.append(job.name)
    return walks, done


def record_sitemaps(
    sessions: sessionmaker[Session], walks: list[Walk], failed: set[str], now: datetime
) -> None:
    """Record the gaps of every sitemap walk that finished cleanly (no failed document,
    no article the store could not write) as done."""
    with transaction(sessions) as session:
        for walk in walks:
            if walk.marker != SITEMAP or walk.failed or walk.job.name in failed:
                continue
            record_windows(session, SITEMAP, walk.job.name, [(g, 0) for g in walk.gaps], now)
