"""``mediawatch run``: the background service, APScheduler jobs over one database.

The jobs: ``tick`` (crawl the due sources; distributed mode: queue them for the
workers), ``detect``, ``deliver`` (due digests, then the outbox), ``index`` (search
index), ``maintenance`` and, in distributed mode only, ``leadership`` (step down when the
lock's connection fails). The rule: a failing job logs one line and counts in the
metrics, and the service keeps running.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import ColumnElement, Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from clock.moments import utcnow
from config.models import Config
from errors import MediawatchError
from scheduler.crawl_process import crawl_command, run_crawl_process
from scheduler.lock import ServiceLock, retry_seconds
from scheduler.metrics import ServiceMetrics, serve_health
from storage.engine import is_sqlite, rowcount, session_factory, transaction
from storage.models import Article, Poll, Source
from storage.queries import due_early, source_is_due

if TYPE_CHECKING:
    from scheduler.queue import SourceQueue

logger = logging.getLogger(__name__)

JOB_DEFAULTS = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}


class LeadershipLostError(MediawatchError):
    """The leader's lock connection failed; another replica may lead by now."""


@dataclass
class Service:
    config: Config
    config_path: Path
    engine: Engine
    log_format: str = "text"
    log_level: str = "INFO"
    clock: Callable[[], datetime] = utcnow
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    stop_event: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.sessions: sessionmaker[Session] = session_factory(self.engine)
        cluster = self.config.distributed
        self.lock = ServiceLock(self.engine, takeover=cluster.leader_takeover if cluster else None)
        self.queue = _source_queue(self.config, self.sessions) if cluster else None
        self.role = "standby" if cluster else "leader"
        self.lost_leadership = False
        self._last_poll_id = 0
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(4)}, job_defaults=JOB_DEFAULTS, timezone="UTC"
        )
        self.last_tick: datetime | None = None
        self.last_crawl_ok: datetime | None = None

    # -- life cycle -------------------------------------------------------------------

    def run(self) -> None:
        """Run until ``stop()`` (or a signal) is received. Holds the service lock
        (distributed mode: stands by until it can)."""
        if self.queue is None:
            self.lock.acquire()
        server = None
        try:
            if self.config.service.http:
                server = serve_health(self.config.service.http, self.metrics, self.health)
            if self.queue is not None and not self._lead():
                return
            self._schedule_jobs()
            self.scheduler.start()
            logger.info(
                "mediawatch service started: %d sources, %d clusters, tick every %ss",
                len(self.config.sources),
                len(self.config.clusters),
                int(self.config.service.tick.total_seconds()),
            )
            self.stop_event.wait()
            logger.info("stopping: no new jobs; waiting for the running ones")
            self.scheduler.shutdown(wait=True)
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()
            self.lock.release()
            self.engine.dispose()
            logger.info("mediawatch service stopped")
        if self.lost_leadership:
            raise LeadershipLostError("lost the scheduler role; restart to stand by again")

    def _lead(self) -> bool:
        """Distributed mode: stand by until this replica holds the scheduler role."""
        logger.info("distributed mode: waiting for the scheduler role")
        if not self.lock.wait(self.stop_event):
            return False
        with self.sessions() as session:
            self._last_poll_id = session.scalar(select(func.max(Poll.id))) or 0
        self.role = "leader"
        logger.info("this replica now leads: it schedules, detects and delivers")
        return True

    def stop(self, *_: Any) -> None:
        self.stop_event.set()

    def _schedule_jobs(self) -> None:
        tick = self.config.service.tick.total_seconds()
        add = self.scheduler.add_job
        now = datetime.now().astimezone()
        add(
            self.tick, "interval", seconds=tick, id="tick", replace_existing=True, next_run_time=now
        )
        add(self.detect, "interval", hours=1, id="detect", replace_existing=True)
        add(
            self.deliver,
            "interval",
            seconds=30,
            id="deliver",
            replace_existing=True,
            next_run_time=now,
        )
        add(self.maintenance, "interval", hours=6, id="maintenance", replace_existing=True)
        add(self.index, "interval", minutes=5, id="index", replace_existing=True)
        if self.lock.takeover is not None:
            every = retry_seconds(self.lock.takeover)
            add(
                self.keep_leading, "interval", seconds=every, id="leadership", replace_existing=True
            )

    # -- jobs -------------------------------------------------------------------------

    def tick(self) -> None:
        """Run one crawl of the due sources, if any are due."""
        with self._job("tick"):
            now = self.clock()
            self.last_tick = now
            due = self._due_lags(now)
            self.metrics.due_sources.set(len(due))
            self.metrics.queue_lag.set(max(due, default=0.0))
            if self.queue is not None:
                self._hand_out(now, due)
                return
            if not due or self.stop_event.is_set():
                return
            for lag in due:
                self.metrics.poll_lag.observe(lag)
            logger.info("%d sources due (most overdue by %.0fs): crawling", len(due), max(due))
            command = crawl_command(self.config_path, self.log_format, self.log_level)
            run = run_crawl_process(
                command,
                timeout=self.config.crawl.crawl_timeout.total_seconds(),
                stop=self.stop_event,
            )
            self.metrics.crawl_seconds.observe(run.duration)
            outcome = (
                "timeout"
                if run.timed_out
                else "interrupted"
                if run.interrupted
                else ("ok" if run.returncode == 0 else "failed")
            )
            self.metrics.crawls.labels(outcome).inc()
            self._count_polls(Poll.started_at >= now)
            if outcome == "ok":
                self.last_crawl_ok = self.clock()
                logger.info("crawl finished in %.1fs", run.duration)
                if not self.stop_event.is_set():
                    soon = datetime.now().astimezone()
                    self.scheduler.modify_job("detect", next_run_time=soon)
                    self.scheduler.modify_job("index", next_run_time=soon)
            elif outcome == "timeout":
                self._record_timeout(now)
            elif outcome == "failed":
                logger.error("crawl exited with code %s", run.returncode)

    def keep_leading(self) -> None:
        """Step down (stop, exit 2) when the leadership lock's connection has failed."""
        if not self.stop_event.is_set() and not self.lock.held():
            logger.error("lost the scheduler role: its database connection failed; stopping")
            self.lost_leadership = True
            self.stop()

    def _hand_out(self, now: datetime, lags: list[float]) -> None:
        """Distributed tick: queue the due sources; count what the workers recorded."""
        assert self.queue is not None
        if lags and not self.stop_event.is_set():
            for lag in lags:
                self.metrics.poll_lag.observe(lag)
            tickets = self.queue.enqueue_due(now)
            logger.info(
                "%d sources due (most overdue by %.0fs): queued for the workers",
                len(tickets),
                max(lags),
            )
        with self.sessions() as session:
            newest = session.scalar(select(func.max(Poll.id))) or 0
        if newest > self._last_poll_id:
            stored = self._count_polls(Poll.id > self._last_poll_id, Poll.id <= newest)
            self._last_poll_id = newest
            self.last_crawl_ok = self.clock()
            if stored and not self.stop_event.is_set():
                self.scheduler.modify_job("detect", next_run_time=datetime.now().astimezone())

    def detect(self) -> None:
        """Spike detection over the archive; new alerts go into the outbox."""
        with self._job("detect"):
            from alerts.detect import run_detection

            with transaction(self.sessions) as session:
                changes = run_detection(session, self.config, self.clock())
            if any(change.queued for change in changes) and not self.stop_event.is_set():
                self.scheduler.modify_job("deliver", next_run_time=datetime.now().astimezone())

    def deliver(self) -> None:
        """Queue the daily digests that are due, then deliver what the outbox holds."""
        if not self.config.alerts.channels:
            return
        with self._job("digest"):  # a failing digest never holds back the alerts
            from alerts.digest import queue_due_digests

            with transaction(self.sessions) as session:
                queue_due_digests(session, self.config, self.clock())
        with self._job("deliver"):
            from alerts.channels import build_channels
            from alerts.outbox import deliver_due

            report = deliver_due(self.sessions, build_channels(self.config.alerts), self.clock())
            self.metrics.alerts_sent.inc(report.sent)
            self.metrics.alerts_failed.inc(report.failed)

    def index(self) -> None:
        """Keep the search index current (new articles are queued by database triggers)."""
        with self._job("index"):
            from archive.search_index import sync_search_index

            indexed = sync_search_index(self.sessions)
            if indexed:
                logger.info("search index: %d article(s) indexed", indexed)

    def maintenance(self) -> None:
        """Drop old article text if configured; keep SQLite small and its plans good."""
        with self._job("maintenance"):
            retain = self.config.storage.retain_text
            if retain is not None:
                cutoff = self.clock() - retain
                with transaction(self.sessions) as session:
                    result = session.execute(
                        update(Article)
                        .where(Article.fetched_at < cutoff, Article.text.is_not(None))
                        .values(text=None)
                    )
                    logger.info("retention: dropped the text of %s articles", rowcount(result))
            if is_sqlite(self.engine):
                with self.engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                    connection.exec_driver_sql("PRAGMA optimize")

    # -- health -----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        now = self.clock()
        tick_every = self.config.service.tick
        fresh = self.last_tick is not None and now - self.last_tick <= tick_every * 3 + timedelta(
            seconds=self.config.crawl.crawl_timeout.total_seconds()
        )
        with self.sessions() as session:
            unhealthy = (
                session.scalar(
                    select(func.count())
                    .select_from(Source)
                    .where(Source.enabled.is_(True), Source.healthy.is_(False))
                )
                or 0
            )
        self.metrics.unhealthy.set(unhealthy)
        state: dict[str, Any] = {
            "ok": bool(fresh and not self.stop_event.is_set()),
            "last_tick": self.last_tick.isoformat() if self.last_tick else None,
            "last_crawl_ok": self.last_crawl_ok.isoformat() if self.last_crawl_ok else None,
            "unhealthy_sources": unhealthy,
        }
        if self.queue is not None:  # a standby is healthy while it stands by
            state["role"] = self.role
            state["ok"] = state["ok"] or (self.role == "standby" and not self.stop_event.is_set())
            try:
                state["queued_sources"], state["queued_requests"] = self.queue.backlog()
            except Exception as exc:  # Redis unreachable: unhealthy, not a crash
                state["ok"], state["queue_error"] = False, str(exc)
        return state

    # -- helpers ----------------------------------------------------------------------

    def _due_lags(self, now: datetime) -> list[float]:
        with self.sessions() as session:
            early = due_early(self.config.service.tick)
            due = source_is_due(now, early)
            rows = session.scalars(select(Source.next_poll_at).where(due)).all()
        return [max(0.0, (now - due).total_seconds()) for due in rows]

    def _count_polls(self, *where: ColumnElement[bool]) -> int:
        """Count the polls ``where`` selects in the metrics; returns their new articles."""
        with self.sessions() as session:
            rows = session.execute(
                select(Poll.status, func.count(), func.coalesce(func.sum(Poll.new_articles), 0))
                .where(*where)
                .group_by(Poll.status)
            ).all()
        for status, count, new in rows:
            self.metrics.polls.labels(status).inc(count)
            self.metrics.articles.inc(new)
        return sum(int(new) for _, _, new in rows)

    def _record_timeout(self, started: datetime) -> None:
        """Sources the killed crawl left unpolled are pushed back, not retried in a loop."""
        limit = self.config.crawl.crawl_timeout
        with transaction(self.sessions) as session:
            hung = session.scalars(select(Source).where(source_is_due(started))).all()
            for source in hung:
                source.last_status = "error"
                source.last_error = f"crawl killed after {limit}"
                source.consecutive_failures += 1
                source.next_poll_at = self.clock() + timedelta(
                    seconds=source.interval_seconds * random.uniform(0.5, 1.0)
                )

    @contextmanager
    def _job(self, name: str) -> Iterator[None]:
        """A failing job logs one line, counts in the metrics, and the service goes on."""
        try:
            yield
        except MediawatchError as exc:
            self.metrics.job_errors.labels(name).inc()
            logger.error("%s job: %s", name, exc)
        except Exception:
            self.metrics.job_errors.labels(name).inc()
            logger.exception("%s job failed", name)


def _source_queue(config: Config, sessions: sessionmaker[Session]) -> SourceQueue:
    from scheduler.queue import SourceQueue
    from spiders.distributed.worker import connect_redis, frontier_keys

    assert config.distributed is not None
    return SourceQueue(
        config, sessions, connect_redis(config.distributed.redis_url), frontier_keys(config)
    )
