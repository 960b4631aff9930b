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
        pointer = " " * position + "^"
        super().__init__(f"{message} at position {position}\n  {query}\n  {pointer}")


class SourceError(MediawatchError):
    """A source could not be fetched or parsed."""


class DeliveryError(MediawatchError):
    """An alert channel did not accept a message."""
