"""The one error hierarchy of mediawatch.

Every layer may import this leaf module (it imports nothing of the project).
Errors are translated at the boundaries only: the CLI turns a ``MediawatchError``
into one clear line and an exit code; a scheduler job logs and records it and
keeps running.

    MediawatchError
    ├── ConfigError      config.toml missing, malformed or invalid (CLI exit 2)
    ├── StorageError     database unreachable, unwritable or at an unknown revision (exit 2)
    ├── WatchlistError   a term or query that cannot be used (also raised at config load)
    │   └── QuerySyntaxError   carries the position of the problem in the query
    ├── SourceError      one source could not be polled (recorded on the source, never fatal)
    └── DeliveryError    a channel refused or could not be reached (the outbox retries)
"""


class MediawatchError(Exception):
    """Base of every error mediawatch raises on purpose."""


class ConfigError(MediawatchError):
    """The configuration cannot be used; the message names the file and the key."""


class StorageError(MediawatchError):
    """The database cannot be reached, created or written."""


class WatchlistError(MediawatchError):
    """A cluster, term or query of the watch-list cannot be used."""


class QuerySyntaxError(WatchlistError):
    """A query that does not parse; ``position`` is the 0-based offset of the problem."""

    def __init__(self, message: str, query: str, position: int) -> None:
        self.query = query
        self.position = position
        shown, column = _excerpt(query, position)
        super().__init__(f"{message} at position {position}\n  {shown}\n  {' ' * column}^")


def _excerpt(query: str, position: int, width: int = 76) -> tuple[str, int]:
    """The part of ``query`` around ``position`` fit for one terminal line (a 10 KB query
    stays readable), line breaks and tabs as spaces; and the pointer's column in it."""
    flat = "".join(" " if char.isspace() else char for char in query)
    if len(flat) <= width:
        return flat, position
    start = max(0, min(position - width // 2, len(flat) - width))
    head = "..." if start else ""
    tail = "..." if start + width < len(flat) else ""
    return head + flat[start : start + width] + tail, len(head) + position - start


class SourceError(MediawatchError):
    """A source could not be fetched or parsed."""


class DeliveryError(MediawatchError):
    """An alert channel did not accept a message."""
