"""``[detection]``: the false-alarm budget and the spike detector's settings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    model_validator,
)

from clock.durations import format_duration, parse_duration
from config.base import Duration, Model


@dataclass(frozen=True)
class AlarmRate:
    """A false-alarm budget: ``count`` expected false onsets per ``per``, per cluster."""

    count: float
    per: timedelta

    def per_bucket(self, width: timedelta) -> float:
        """The chance a quiet bucket of ``width`` may be flagged: one onset per flagged
        bucket at most, so the budget's rate times the bucket's width."""
        return self.count * width.total_seconds() / self.per.total_seconds()

    def __str__(self) -> str:
        return f"{self.count:g}/{format_duration(self.per)}"


_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$")


_RATE_UNITS = {"s": "s", "m": "m", "h": "h", "d": "d", "w": "w", "hour": "h", "day": "d",
               "week": "w", "month": "month"}  # fmt: skip


def parse_alarm_rate(value: object) -> AlarmRate:
    """``"1/2w"``, ``"0.5/week"``, ``"2/30d"``: expected false onsets per period."""
    if isinstance(value, AlarmRate):
        return value
    match = _RATE.match(value.lower()) if isinstance(value, str) else None
    unit = _RATE_UNITS.get(match.group(3).removesuffix("s") or "s") if match else None
    if match is None or unit is None:
        raise ValueError(f"invalid false-alarm rate {value!r} (write it like 1/2w or 0.5/week)")
    count, times = float(match.group(1)), float(match.group(2) or 1)
    per = timedelta(days=30 * times) if unit == "month" else parse_duration(f"{times:g}{unit}")
    if count <= 0:
        raise ValueError(f"false-alarm rate must be positive, got {value!r}")
    return AlarmRate(count, per)


FalseAlarms = Annotated[AlarmRate, BeforeValidator(parse_alarm_rate), PlainSerializer(str)]


MAX_SPIKE_THRESHOLD = 0.1


"""However coarse the buckets, a spike is a one-in-ten event at least."""


class DetectionConfig(Model):
    bucket: Duration = timedelta(hours=1)
    min_count: int = Field(default=5, ge=1)
    min_sources: int = Field(default=2, ge=1)
    cooldown: Duration = timedelta(hours=6)
    false_alarms: FalseAlarms = AlarmRate(1, timedelta(weeks=4))
    """At most this many false onsets per cluster (the per-bucket threshold follows for any
    bucket width). One in four weeks: at one in two, a ten-cluster watch-list already
    mails five false alarms a week, and the synthetic null series of ``bench detect``
    (mid-level clusters with leaked wire copies) stay above 0.1 a week."""
    threshold: float | None = Field(default=None, gt=0, lt=1)
    """Expert override: a bucket is a spike when its (calibrated) tail probability is
    below this, whatever the bucket width."""
    history: Duration = timedelta(days=14)
    quiet_threshold: float | None = Field(default=None, gt=0, lt=1)
    """An open episode's bucket is quiet when its tail probability is at least this
    (default: ten times the spike threshold, at least 0.05)."""
    close_after: int = Field(default=3, ge=1)
    """Quiet buckets in a row that close an episode (hysteresis)."""
    update_factor: float = Field(default=2.0, gt=1)
    """One update per episode, when a bucket counts this many times the opening bucket."""
    lookback: Duration = timedelta(hours=6)
    """Complete buckets this recent are judged again on every run (late stories count)."""
    backlog_fraction: float = Field(default=0.5, gt=0, le=1)
    """A bucket with this share of stories from a source's first poll after an outage
    (or its first poll ever) is backlog, not news: it opens no episode."""
    early: bool = True
    """The current, incomplete bucket may open an episode as soon as it is a spike."""

    @model_validator(mode="after")
    def _thresholds(self) -> DetectionConfig:
        if self.quiet_threshold is not None and self.quiet_threshold <= self.spike_threshold():
            raise ValueError("quiet_threshold must be above threshold (hysteresis)")
        return self

    def spike_threshold(self, bucket: timedelta | None = None) -> float:
        """The per-bucket tail probability below which a bucket is a spike: ``threshold``
        when set, else the false-alarm budget spread over buckets of ``bucket`` (default:
        ``[detection] bucket``), at most ``MAX_SPIKE_THRESHOLD``."""
        if self.threshold is not None:
            return self.threshold
        return min(MAX_SPIKE_THRESHOLD, self.false_alarms.per_bucket(bucket or self.bucket))

    def quiet_for(self, bucket: timedelta | None = None) -> float:
        """The tail probability at or above which an open episode's bucket is quiet."""
        if self.quiet_threshold is not None:
            return self.quiet_threshold
        return min(0.5, max(0.05, 10 * self.spike_threshold(bucket)))
