"""An alert as the channels receive it: everything needed to explain a spike.

Detection builds these; the outbox stores them as JSON (``to_json``/``from_json``);
channels render them (text, HTML, Slack blocks). Titles and URLs are scraped from the open
web: every renderer must treat them as hostile (escape them).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

AlertKind = Literal["open", "update", "digest", "test"]


@dataclass(frozen=True)
class Headline:
    title: str
    url: str
    publisher: str
    published_at: datetime | None = None


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    cluster: str
    bucket_start: datetime
    """Start of the spiking bucket (naive UTC)."""
    bucket_end: datetime
    observed: int
    """Stories (not copies) in the bucket."""
    expected: float
    """Stories the baseline expected in the bucket."""
    tail_probability: float
    """P(count >= observed) under the baseline."""
    sources: int
    """Distinct publishers in the bucket."""
    languages: tuple[str, ...] = ()
    headlines: tuple[Headline, ...] = ()
    """Top headlines, one per story."""
    episode_id: int | None = None
    trend_command: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    entries: tuple[Alert, ...] = ()
    """A digest's episodes, each as its own alert (empty for every other kind)."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=_encode, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Alert:
        return cls._from_dict(json.loads(text))

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> Alert:
        data["entries"] = tuple(cls._from_dict(entry) for entry in data.get("entries") or ())
        data["bucket_start"] = datetime.fromisoformat(data["bucket_start"])
        data["bucket_end"] = datetime.fromisoformat(data["bucket_end"])
        data["languages"] = tuple(data.get("languages") or ())
        data["headlines"] = tuple(
            Headline(
                title=h["title"],
                url=h["url"],
                publisher=h["publisher"],
                published_at=datetime.fromisoformat(h["published_at"])
                if h.get("published_at")
                else None,
            )
            for h in data.get("headlines") or ()
        )
        return cls(**data)


def make_test_alert(now: datetime) -> Alert:
    """What ``alerts test`` sends through every channel."""
    return Alert(
        kind="test",
        cluster="mediawatch test",
        bucket_start=now,
        bucket_end=now,
        observed=0,
        expected=0.0,
        tail_probability=1.0,
        sources=0,
    )


def _encode(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")
