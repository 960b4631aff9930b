"""What one poll of a source found, and recording it: the source row's polling state
(when it is next due: ``spiders.polling.policy``) and a ``Poll`` history row."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from config.models import CrawlConfig
from spiders.polling.policy import Bounds, PollOutcome, PollStatus, Schedule, next_schedule
from storage.models import Poll, Source

logger = logging.getLogger(__name__)

Status = Literal["ok", "not_modified", "error"]

SKIP_REASONS_KEPT = 3


@dataclass
class PollResult:
    """One source's poll, filled in by the spider as responses arrive, then by the store."""

    source: str
    started_at: datetime
    status: Status = "error"
    http_status: int | None = None
    error: str | None = "not polled (the crawl ended before an answer)"
    etag: str | None = None
    last_modified: str | None = None
    entries: int = 0
    """Entries (feed items or sitemap URLs) the source listed."""
    known: int = 0
    """Entries skipped because their URL is already stored."""
    followed: int = 0
    """New entries whose pages were asked for."""
    followed_before: int = 0
    """Pages earlier steps of the same poll asked for (distributed mode, where each step
    has a result of its own): they count against the same ``max_articles_per_poll``."""
    settled: int = 0
    """Followed entries whose page answered or failed (and so reached the pipeline)."""
    failed: int = 0
    """Articles of this poll the store could not write."""
    capped: bool = False
    """More new entries than ``max_articles_per_poll``: the rest wait for the next poll."""
    problems: list[str] = field(default_factory=list)
    """Parts of the answer that could not be had (a child sitemap): the poll is partial."""
    skipped: int = 0
    """Entries left out because they cannot be used (a broken link, a 10 KB URL)."""
    skip_reasons: list[str] = field(default_factory=list)
    """Why, for the first few of them."""
    new: int = 0
    duplicates: int = 0
    entry_times: list[datetime] = field(default_factory=list)
    ttl: timedelta | None = None
    retry_after: timedelta | None = None
    finished_at: datetime | None = None

    answered: bool = False
    """False until the source answered (or failed): an unanswered source is not recorded
    and stays due (the crawl was stopped or timed out before reaching it)."""

    @property
    def unfinished(self) -> bool:
        """Some new entries are not stored: the poll is ``incomplete``, or the cap left
        some for the next poll."""
        return self.incomplete or self.capped

    @property
    def incomplete(self) -> bool:
        """Something the source listed is missing for a reason other than the cap: the
        crawl ended (stopped, timed out) before every followed page was handled, the
        store could not write some, or a child sitemap could not be had."""
        return self.settled < self.followed or self.failed > 0 or bool(self.problems)

    @property
    def recorded_status(self) -> PollStatus:
        return "partial" if self.status == "ok" and self.incomplete else self.status

    @property
    def note(self) -> str | None:
        """The error, or what a successful poll left out and why (for ``sources status``)."""
        if self.status == "error":
            return self.error
        parts = [*self.problems]
        if self.settled < self.followed:
            parts.append(
                f"{self.followed - self.settled} page(s) not reached before the crawl ended"
            )
        if self.failed:
            parts.append(f"{self.failed} article(s) could not be stored (see the log)")
        if self.skipped:
            parts.append(
                f"{self.skipped} unusable entries skipped ({'; '.join(self.skip_reasons)})"
            )
        return "; ".join(parts) or None

    def skip(self, reason: str) -> None:
        self.skipped += 1
        if len(self.skip_reasons) < SKIP_REASONS_KEPT:
            self.skip_reasons.append(reason)

    def succeed(self, http_status: int, status: Status = "ok") -> None:
        self.status, self.http_status, self.error = status, http_status, None
        self.answered = True

    def fail(self, error: str, http_status: int | None = None) -> None:
        self.status, self.error, self.answered = "error", error, True
        if http_status is not None:
            self.http_status = http_status


def next_poll(
    result: PollResult, source: Source, now: datetime, crawl: CrawlConfig, jitter: float
) -> Schedule:
    """The policy's schedule for ``source`` (its row before this poll) after ``result``."""
    outcome = PollOutcome(
        status=result.recorded_status,
        entries=result.entries,
        new=result.new,
        entry_times=tuple(result.entry_times),
        ttl=result.ttl,
        retry_after=result.retry_after,
    )
    return next_schedule(
        outcome,
        interval=timedelta(seconds=source.interval_seconds),
        failures=source.consecutive_failures,
        last_success_at=source.last_success_at,
        bounds=Bounds(crawl.min_interval, crawl.max_interval),
        now=now,
        jitter=jitter,
    )


def record_poll(
    session: Session,
    source: Source,
    result: PollResult,
    now: datetime,
    crawl: CrawlConfig,
    *,
    jitter: float,
) -> Schedule:
    """Update ``source`` from ``result`` and add its ``Poll`` row (the caller commits);
    the policy, within ``crawl``'s bounds, decides when the source is next due (``jitter``
    is its uniform draw in [0, 1))."""
    decision = next_poll(result, source, now, crawl, jitter)
    status = result.recorded_status
    source.last_polled_at = now
    source.last_status = status
    source.last_http_status = result.http_status
    source.last_error = result.note
    source.consecutive_failures = decision.failures
    source.healthy = decision.healthy
    source.interval_seconds = max(1, int(decision.interval.total_seconds()))
    source.next_poll_at = decision.next_poll_at
    if status == "error":
        # A validator the server chokes on (a 400 or 412 to every conditional request)
        # must not keep the source failing: the next poll asks unconditionally.
        source.etag = source.last_modified = None
    else:
        source.last_success_at = now
        # A 304 keeps the validators we sent; a 200 replaces them (or clears them).
        if status == "ok":
            source.etag = result.etag
            source.last_modified = result.last_modified
        if result.unfinished:
            # Some entries were not stored: forget the validators so the next poll gets
            # the whole document again (a 304 would hide what we did not store).
            source.etag = source.last_modified = None
        if result.capped and not result.incomplete:
            source.next_poll_at = now  # a backlog, drained poll by poll: due at once
    session.add(
        Poll(
            source_id=source.id,
            started_at=result.started_at,
            finished_at=result.finished_at or now,
            status=status,
            http_status=result.http_status,
            entries=result.entries,
            new_articles=result.new,
            duplicates=result.duplicates,
            error=result.note,
        )
    )
    logger.info(
        "source %s: %s (HTTP %s), %d entries, %d new, %d duplicates%s; next poll %s",
        source.name,
        status,
        result.http_status,
        result.entries,
        result.new,
        result.duplicates,
        f", {result.note}" if result.note else "",
        decision.next_poll_at.isoformat(timespec="seconds"),
    )
    return decision
