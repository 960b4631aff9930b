"""One service per database: a lock that dies with its process.

SQLite: an exclusive ``flock`` on ``<database>.lock`` beside the file (the kernel drops it
when the process dies, even on ``kill -9``). PostgreSQL: a session-level advisory lock held
on a dedicated connection (the server drops it when the connection dies).
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from sqlalchemy import Engine, text

from mediawatch.errors import MediawatchError

logger = logging.getLogger(__name__)

ADVISORY_KEY = 0x6D656469  # "medi": the scheduler role of one mediawatch database


class ServiceLockedError(MediawatchError):
    """Another service already runs against this database."""


class ServiceLock:
    """``with ServiceLock(engine): ...`` or ``acquire()``/``release()``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._file: IO[str] | None = None
        self._connection: Any = None

    def try_acquire(self) -> bool:
        if self.engine.dialect.name == "sqlite":
            return self._flock()
        connection = self.engine.connect()
        got = bool(
            connection.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}
            ).scalar()
        )
        connection.commit()
        if got:
            self._connection = connection
        else:
            connection.close()
        return got

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
                self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._connection.commit()
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
