"""``mediawatch run``: the background service.

APScheduler runs a few fixed jobs; the database decides what is due:

* ``tick``: are sources due? then one ``crawl --due`` subprocess, with a timeout;
* ``detect``: cluster counts -> spike episodes -> alerts in the outbox (after each crawl
  and hourly);
* ``deliver``: the outbox -> channels, with retries;
* ``maintenance``: retention of old article text, SQLite checkpoint and optimize.

Every job has an explicit id, ``max_instances=1`` and ``coalesce=True``. A job that fails
logs one line, counts in the metrics, and the service keeps running. SIGTERM/SIGINT stop
scheduling, end a running crawl within a bound, close the database and exit 0.
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
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from mediawatch.config import Config
from mediawatch.errors import MediawatchError
from scheduler.crawl_process import crawl_command, run_crawl_process
from scheduler.lock import ServiceLock
from scheduler.metrics import ServiceMetrics, serve_health
from storage.clock import utcnow
from storage.engine import is_sqlite, session_factory, transaction
from storage.models import Article, Poll, Source

logger = logging.getLogger(__name__)

JOB_DEFAULTS = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}


@dataclass
class Service:
    config: Config
    config_path: Path
    engine: Engine
    log_format: str = "text"
    clock: Callable[[], datetime] = utcnow
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    stop_event: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.sessions: sessionmaker[Session] = session_factory(self.engine)
        self.lock = ServiceLock(self.engine)
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(4)}, job_defaults=JOB_DEFAULTS, timezone="UTC"
        )
        self.last_tick: datetime | None = None
        self.last_crawl_ok: datetime | None = None

    # -- life cycle -------------------------------------------------------------------

    def run(self) -> None:
        """Run until ``stop()`` (or a signal) is received. Holds the service lock."""
        self.lock.acquire()
        server = None
        try:
            if self.config.service.http:
                server = serve_health(self.config.service.http, self.metrics, self.health)
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

    # -- jobs -------------------------------------------------------------------------

    def tick(self) -> None:
        """Run one crawl of the due sources, if any are due."""
        with self._job("tick"):
            now = self.clock()
            self.last_tick = now
            due = self._due_lags(now)
            self.metrics.due_sources.set(len(due))
            self.metrics.queue_lag.set(max(due, default=0.0))
            if not due or self.stop_event.is_set():
                return
            for lag in due:
                self.metrics.poll_lag.observe(lag)
            logger.info("%d sources due (most overdue by %.0fs): crawling", len(due), max(due))
            command = crawl_command(self.config_path, self.log_format)
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
            self._count_polls(since=now)
            if outcome == "ok":
                self.last_crawl_ok = self.clock()
                logger.info("crawl finished in %.1fs", run.duration)
                if not self.stop_event.is_set():
                    self.scheduler.modify_job("detect", next_run_time=datetime.now().astimezone())
            elif outcome == "timeout":
                self._record_timeout(now)
            elif outcome == "failed":
                logger.error("crawl exited with code %s", run.returncode)

    def detect(self) -> None:
        """Spike detection over the archive; new alerts go into the outbox."""
        with self._job("detect"):
            from alerts.detect import run_detection

            with transaction(self.sessions) as session:
                run_detection(session, self.config, self.clock())

    def deliver(self) -> None:
        """Deliver what the outbox holds, with retries."""
        if not self.config.alerts.channels:
            return
        with self._job("deliver"):
            from alerts.channels import build_channels
            from alerts.outbox import deliver_due

            report = deliver_due(self.sessions, build_channels(self.config.alerts), self.clock())
            self.metrics.alerts_sent.inc(report.sent)

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
                    logger.info("retention: dropped the text of %s articles", _rowcount(result))
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
        return {
            "ok": bool(fresh and not self.stop_event.is_set()),
            "last_tick": self.last_tick.isoformat() if self.last_tick else None,
            "last_crawl_ok": self.last_crawl_ok.isoformat() if self.last_crawl_ok else None,
            "unhealthy_sources": unhealthy,
        }

    # -- helpers ----------------------------------------------------------------------

    def _due_lags(self, now: datetime) -> list[float]:
        with self.sessions() as session:
            rows = session.scalars(
                select(Source.next_poll_at).where(
                    Source.enabled.is_(True), Source.next_poll_at <= now
                )
            ).all()
        return [(now - due).total_seconds() for due in rows]

    def _count_polls(self, since: datetime) -> None:
        with self.sessions() as session:
            rows = session.execute(
                select(Poll.status, func.count(), func.coalesce(func.sum(Poll.new_articles), 0))
                .where(Poll.started_at >= since)
                .group_by(Poll.status)
            ).all()
        for status, count, new in rows:
            self.metrics.polls.labels(status).inc(count)
            self.metrics.articles.inc(new)

    def _record_timeout(self, started: datetime) -> None:
        """Sources the killed crawl left unpolled are pushed back, not retried in a loop."""
        limit = self.config.crawl.crawl_timeout
        with transaction(self.sessions) as session:
            hung = session.scalars(
                select(Source).where(Source.enabled.is_(True), Source.next_poll_at <= started)
            ).all()
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


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
