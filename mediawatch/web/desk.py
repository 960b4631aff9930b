"""What every request of the desk reads: the config, the database, the token, the clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from clock.moments import utcnow
from config.models import Config


@dataclass(frozen=True)
class Desk:
    config: Config
    engine: Engine
    token: str | None = None
    """Required on every request when set (``[web] token_env``); None on open loopback."""
    now: Callable[[], datetime] = utcnow
    """Naive UTC, as the database stores it; tests pass a fixed clock."""
    sessions: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sessions", sessionmaker(self.engine, expire_on_commit=False))


def desk(request: Request) -> Desk:
    """The desk of the app serving ``request`` (a FastAPI dependency)."""
    found: Desk = request.app.state.desk
    return found


def session(request: Request) -> Iterator[Session]:
    """One database session per request (a FastAPI dependency)."""
    with desk(request).sessions() as opened:
        yield opened
