"""Durations as config.toml writes them (``30s``, ``15m``, ``2h``, ``1d``, ``1w``)."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")


_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class DurationOverflowError(ValueError, OverflowError):
    """A duration longer than any date can hold: invalid in config (a ``ValueError``),
    "since the beginning of time" for ``--since`` (an ``OverflowError``)."""


def parse_pause(value: object) -> timedelta:
    """Like ``parse_duration`` but zero is allowed (``"0s"``: no pause)."""
    if value in (0, "0", "0s"):
        return timedelta(0)
    return parse_duration(value)


def parse_duration(value: object) -> timedelta:
    """``"30s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"1w"`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError(f"invalid duration {value!r} (write it like 30s, 15m, 2h, 1d)")
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {value!r}")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise DurationOverflowError(f"duration {value!r} is too long") from None


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling of a duration: ``timedelta(minutes=90)`` -> ``"90m"``."""
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds}s"
