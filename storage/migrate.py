"""Alembic migrations, run from code: ``upgrade(engine)`` brings any database to head.

The scripts live in ``storage/migrations``; there is no alembic.ini to keep in sync.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from errors import StorageError
from storage.engine import error_reason

logger = logging.getLogger(__name__)

SCRIPTS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    head = ScriptDirectory(str(SCRIPTS)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot open database {engine.url!r}: {error_reason(exc)}") from None


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Upgrade to ``revision`` (head by default); safe to repeat. Returns the revision."""
    try:
        command.upgrade(alembic_config(engine), revision)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot migrate database {engine.url!r}: {error_reason(exc)}") from None
    now = current_revision(engine)
    logger.info("database %s at revision %s", engine.url.render_as_string(), now)
    return now or "base"


def require_current(engine: Engine) -> None:
    """Refuse to work on a database that ``mediawatch init`` has not brought to head."""
    now = current_revision(engine)
    if now != head_revision():
        state = "is empty" if now is None else f"is at revision {now}"
        raise StorageError(
            f"database {engine.url.render_as_string()} {state}; run `mediawatch init` first"
        )
