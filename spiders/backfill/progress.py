"""What a backfill run tells as it goes: one ``Step`` per GDELT window, channel page or
sitemap document, handed to a ``Progress`` callback (the CLI draws it on stderr)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Step:
    source: str
    """The source walked, or ``gdelt CLUSTER``."""
    what: str
    """The window, page or document just read."""
    pages: int
    """Requests of this source (or cluster) so far."""
    found: int
    """Articles found to store so far."""
    reached: datetime | None = None
    """How far back the walk has got."""
    error: str | None = None


Progress = Callable[[Step], None]


def silent(step: Step) -> None:
    """The ``Progress`` of a caller that shows none."""
