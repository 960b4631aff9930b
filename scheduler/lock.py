"""One service per database: a lock that dies with its process.

SQLite: an exclusive ``flock`` on ``<database>.lock`` beside the file (the kernel drops it
when the process dies, even on ``kill -9``). PostgreSQL: a session-level advisory lock held
on a dedicated connection (the server drops it when the connection dies).

Leadership (distributed mode, ``ServiceLock(engine, takeover=...)``): the same lock is the
scheduler role. A replica that cannot get it ``wait``s, trying again every few seconds,
instead of refusing. A leader killed on the database's machine (or its own) closes its
socket and the lock goes at once; a leader whose machine vanished is noticed by the
server's TCP keepalives, which the lock's connection sets from ``takeover``
(``keepalive_settings``), so the lock is free within the bound. The leader checks that
its connection still answers (``held``) and steps down when it does not.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from sqlalchemy import Engine, text

from errors import MediawatchError
from storage.locks import SCHEDULER_LOCK, try_lock, unlock

logger = logging.getLogger(__name__)


class ServiceLockedError(MediawatchError):
    """Another service already runs against this database."""


def keepalive_settings(takeover: timedelta) -> dict[str, int]:
    """Server-side settings of the lock's connection: a dead leader's connection (and so
    its lock) is dropped within 70% of ``takeover``; a global ``idle_session_timeout``
    must not end the (idle) lock connection."""
    seconds = takeover.total_seconds()
    return {
        "tcp_keepalives_idle": max(1, int(seconds * 0.4)),
        "tcp_keepalives_interval": max(1, int(seconds * 0.1)),
        "tcp_keepalives_count": 3,
        "tcp_user_timeout": max(1000, int(seconds * 700)),
        "idle_session_timeout": 0,
    }


def retry_seconds(takeover: timedelta) -> float:
    """How often a waiting replica tries the lock: within the remaining 20% of ``takeover``."""
    return max(0.5, min(5.0, takeover.total_seconds() * 0.2))


class ServiceLock:
    """``with ServiceLock(engine): ...`` or ``acquire()``/``release()``; in leadership mode
    (``takeover`` given) ``wait(stop)`` instead of ``acquire()``."""

    def __init__(self, engine: Engine, *, takeover: timedelta | None = None) -> None:
        self.engine = engine
        self.takeover = takeover
        self._file: IO[str] | None = None
        self._connection: Any = None

    def try_acquire(self) -> bool:
        if self.engine.dialect.name == "sqlite":
            return self._flock()
        connection = self.engine.connect()
        got = try_lock(connection, SCHEDULER_LOCK)
        if got and self.takeover is not None:
            for name, value in keepalive_settings(self.takeover).items():
                connection.exec_driver_sql(f"SET {name} = {int(value)}")
        connection.commit()
        if got:
            self._connection = connection
        else:
            connection.close()
        return got

    def wait(self, stop: threading.Event) -> bool:
        """Leadership: True once the lock is ours, False if ``stop`` is set first."""
        retry = retry_seconds(self.takeover or timedelta(seconds=30))
        waiting = False
        while not stop.is_set():
            if self.try_acquire():
                return True
            if not waiting:
                waiting = True
                logger.info(
                    "another replica leads %s; standing by (trying every %.1fs)",
                    self.engine.url.render_as_string(),
                    retry,
                )
            stop.wait(retry)
        return False

    def held(self) -> bool:
        """Is the lock still ours? (PostgreSQL: its connection still answers.)"""
        if self._file is not None:
            return True
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
        except Exception as exc:  # any failure of the connection is the lock gone
            logger.error("the leadership lock's connection failed: %s", exc)
            return False
        return True

    def acquire(self) -> None:
        if not self.try_acquire():
            raise ServiceLockedError(
                f"another mediawatch service is already running against "
                f"{self.engine.url.render_as_string()}{self._holder()}; stop it first"
            )

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._connection is not None:
            try:
                unlock(self._connection, SCHEDULER_LOCK)
                self._connection.commit()
            except Exception as exc:  # a dead connection took the lock with it
                logger.warning("could not release the service lock: %s", exc)
            finally:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> ServiceLock:
        self.acquire()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.release()

    @property
    def path(self) -> Path:
        database = self.engine.url.database or "mediawatch.db"
        return Path(database + ".lock")

    def _flock(self) -> bool:
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def _holder(self) -> str:
        if self.engine.dialect.name != "sqlite":
            return ""
        try:
            pid = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            return ""
        return f" (pid {pid})" if pid else ""
