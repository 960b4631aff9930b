"""Every PostgreSQL advisory lock of mediawatch: its key, and the one way its SQL is written.

The keys are stored in running deployments' lock tables: changing one lets an old and a
new process both think they hold the lock, so a key value never changes. On other
databases (SQLite: one host, writers serialised) the helpers do nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, Engine, TextClause, text
from sqlalchemy.orm import Session

LockFunction = Literal[
    "pg_advisory_lock", "pg_try_advisory_lock", "pg_advisory_unlock", "pg_advisory_xact_lock"
]


@dataclass(frozen=True)
class AdvisoryLock:
    """A key in PostgreSQL's advisory-lock space: one 64-bit ``key``, or, ``per_schema``,
    the pair (``key``, hash of the current schema), so each schema has a lock of its own."""

    key: int
    per_schema: bool = False

    def statement(self, function: LockFunction) -> TextClause:
        """``SELECT function(key)``: the one SQL form of every lock call."""
        arguments = ":key, hashtext(current_schema())" if self.per_schema else ":key"
        return text(f"SELECT {function}({arguments})").bindparams(key=self.key)


SCHEDULER_LOCK = AdvisoryLock(0x6D656469)
""""medi": the scheduler role of one database. The service holds it, session-level, on a
connection of its own for as long as it runs (``scheduler.lock.ServiceLock``), so a second
service is refused, or in distributed mode stands by until the leader's connection dies."""

STORE_LOCK = AdvisoryLock(0x6D777374, per_schema=True)
""""mwst": distributed mode's store, per schema. A worker holds it for one batch write
(``spiders.distributed.shared_store``), so its dedupe decisions see every
article any other worker stored before."""

DETECT_LOCK = AdvisoryLock(0x6D77_6465_7465_6374)
""""mwdetect": one detection run at a time, held to the end of the run's transaction
(``alerts.detect.run_detection``); the digest takes it too (``alerts.digest``), so it waits
for the episodes a run in flight is opening."""


def _postgresql(bind: Connection | Engine) -> bool:
    return bind.dialect.name == "postgresql"


def try_lock(connection: Connection, lock: AdvisoryLock) -> bool:
    """Take ``lock`` for the connection's session if it is free; whether it was."""
    return bool(connection.execute(lock.statement("pg_try_advisory_lock")).scalar())


def unlock(connection: Connection, lock: AdvisoryLock) -> None:
    """Give back a ``lock`` this connection's session holds."""
    connection.execute(lock.statement("pg_advisory_unlock"))


@contextmanager
def holding(engine: Engine, lock: AdvisoryLock) -> Iterator[None]:
    """Hold ``lock`` on a connection of its own for the block, waiting for it if taken."""
    if not _postgresql(engine):
        yield
        return
    with engine.connect() as connection:
        connection.execute(lock.statement("pg_advisory_lock"))
        connection.commit()
        try:
            yield
        finally:
            unlock(connection, lock)
            connection.commit()


def lock_for_transaction(session: Session, lock: AdvisoryLock) -> None:
    """Wait for ``lock`` and hold it until the session's transaction ends."""
    if _postgresql(session.get_bind()):
        session.execute(lock.statement("pg_advisory_xact_lock"))
