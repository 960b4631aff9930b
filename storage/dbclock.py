"""The database's clock, for every host of distributed mode.

Leases are compared across machines: the leader stamps a ticket's claim, a worker asks
whether it is stale; one deliverer stamps an outbox claim, another asks whether it
expired. With each host's own clock, a host running minutes ahead steals live leases
(and one behind keeps dead ones). So each host reads the time of the one machine they
all share, PostgreSQL, as an offset to its own clock, measured again every minute
(a query per reading would cost a round trip per lease check). SQLite is a file on the
one host that uses it: its clock is the host's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, text

from clock.moments import utcnow

logger = logging.getLogger(__name__)

RESYNC_SECONDS = 60.0
SKEW_WARNING = timedelta(seconds=5)


class DatabaseClock:
    """``clock()``: now (naive UTC) by the database's clock."""

    def __init__(
        self,
        engine: Engine,
        local: Callable[[], datetime] = utcnow,
        resync_seconds: float = RESYNC_SECONDS,
    ) -> None:
        self.engine = engine
        self.local = local
        self.resync_seconds = resync_seconds
        self.offset = timedelta(0)
        self._synced_at: float | None = None
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            stale = self._synced_at is None or (
                time.monotonic() - self._synced_at >= self.resync_seconds
            )
            if stale:
                self._sync()
            return self.local() + self.offset

    def _sync(self) -> None:
        if self.engine.dialect.name != "postgresql":
            self._synced_at = time.monotonic()
            return
        try:
            before = self.local()
            with self.engine.connect() as connection:
                remote = connection.execute(
                    text("SELECT clock_timestamp() AT TIME ZONE 'UTC'")
                ).scalar_one()
            after = self.local()
        except Exception as exc:  # the database away: keep the last offset, try again
            logger.warning("could not read the database's clock (%s); using the last offset", exc)
            return
        offset = remote - (before + (after - before) / 2)
        if abs(offset) >= SKEW_WARNING and abs(offset - self.offset) >= SKEW_WARNING:
            logger.warning(
                "this host's clock is %.1fs off the database's; leases use the database's",
                -offset.total_seconds(),
            )
        self.offset = offset
        self._synced_at = time.monotonic()
