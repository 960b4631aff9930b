"""What an alert says, before any markup: its title, summary, facts, headlines and the
command that shows the trend; scraped text is reduced to one line here, and escaped by
each renderer (``alerts.render``)."""

from __future__ import annotations

import math
import re
import shlex
from datetime import timedelta
from urllib.parse import urlsplit

from alerts.message import Alert, Headline

MAX_HEADLINES = 8
"""Headlines shown per alert (the alert carries the top ones, one per story)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def probability_in_words(tail_probability: float) -> str:
    """``0.00002`` -> ``"about 1 in 50,000 under the usual pattern"``."""
    p = tail_probability
    if math.isnan(p):
        return "of unknown likelihood under the usual pattern"
    if p <= 1e-9:
        return "less than 1 in a billion under the usual pattern"
    if p >= 0.5:
        return "not unusual under the usual pattern"
    odds = 1.0 / p
    digits = math.floor(math.log10(odds))
    rounded = round(odds, -(digits - 1)) if digits >= 2 else round(odds)
    return f"about 1 in {int(rounded):,} under the usual pattern"


def how_often(tail_probability: float, bucket: timedelta) -> str:
    """How often a bucket this surprising comes by chance, for this cluster: the bucket's
    width over its (calibrated) tail probability. ``"3 weeks"``, ``"over 1000 years"``."""
    if math.isnan(tail_probability):
        return "unknown"
    if tail_probability <= 0:
        return "over 1000 years"
    seconds = bucket.total_seconds() / tail_probability
    if seconds > 1000 * YEAR_SECONDS:
        return "over 1000 years"
    for unit, size in (("years", YEAR_SECONDS), ("weeks", 7 * 86400), ("days", 86400)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{max(1, round(seconds / 3600))} hours"


YEAR_SECONDS = 365.25 * 86400


def stories(count: int) -> str:
    return f"{count} {'story' if count == 1 else 'stories'}"


def expected_words(expected: float) -> str:
    """``0.4`` -> ``"0.4"``, ``12.3456`` -> ``"12"``: no false precision."""
    if expected < 0.95:
        return f"{expected:.2g}"
    if expected < 10:
        return f"{expected:.1f}"
    return f"{expected:.0f}"


def title(alert: Alert) -> str:
    """A short title: an email subject, a Slack header, an apprise title."""
    cluster = one_line(alert.cluster)
    if alert.kind == "test":
        return "mediawatch test message"
    if alert.kind == "update":
        return f"Still growing: {cluster}, {stories(alert.observed)} now"
    if alert.kind == "digest":
        count = len(alert.entries)
        return f"mediawatch daily digest {_digest_date(alert)}: {count} {_spikes(count)}"
    return f"Spike: {cluster}, {stories(alert.observed)} (usually {expected_words(alert.expected)})"


def summary(alert: Alert) -> str:
    """One sentence that explains the alert (no markup)."""
    if alert.kind == "test":
        return (
            "This is a test message from mediawatch. If you can read it, this channel is "
            "set up correctly."
        )
    if alert.kind == "digest":
        clusters = ", ".join(dict.fromkeys(one_line(entry.cluster) for entry in alert.entries))
        return (
            f"{len(alert.entries)} {_spikes(len(alert.entries))} opened or grew since the "
            f"previous digest ({alert.bucket_start:%Y-%m-%d %H:%M} to "
            f"{alert.bucket_end:%Y-%m-%d %H:%M} UTC): {clusters}."
        )
    window = _window(alert)
    if alert.kind == "update":
        return (
            f"Coverage of {alert.cluster} is still growing: {stories(alert.observed)} now "
            f"({window}), where the usual pattern expects {expected_words(alert.expected)}. "
            f"That is {probability_in_words(alert.tail_probability)}."
        )
    return (
        f"{stories(alert.observed)} about {alert.cluster} {window}, where the usual pattern "
        f"expects {expected_words(alert.expected)}. That many is "
        f"{probability_in_words(alert.tail_probability)}."
    )


def facts(alert: Alert) -> list[tuple[str, str]]:
    """The explanation as label/value pairs (text only; escape before markup)."""
    if alert.kind in ("test", "digest"):
        return []
    languages = ", ".join(alert.languages) if alert.languages else "unknown"
    return [
        ("Cluster", alert.cluster),
        ("Stories", f"{alert.observed} observed, {expected_words(alert.expected)} expected"),
        ("How unusual", probability_in_words(alert.tail_probability)),
        (
            "How often",
            "about once in "
            f"{how_often(alert.tail_probability, alert.bucket_end - alert.bucket_start)}"
            " for this cluster",
        ),
        ("Sources", f"{alert.sources} distinct"),
        ("Languages", languages),
        ("Window", _window(alert)),
    ]


def trend_command(alert: Alert) -> str:
    """The command that shows the trend (the alert's own, else a sensible default)."""
    if alert.trend_command:
        return one_line(alert.trend_command)
    return report_command(alert.cluster)


def report_command(cluster: str) -> str:
    """The shell command that shows ``cluster``'s trend (the name quoted for a shell)."""
    return f"mediawatch report --by hour --since 3d --cluster {shlex.quote(cluster)}"


def safe_url(url: str) -> str | None:
    """The URL if it is a plain ``http(s)`` link, else None (never link anything else)."""
    candidate = url.strip()
    if not candidate or _CONTROL.search(candidate) or any(c.isspace() for c in candidate):
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return candidate


def headlines(alert: Alert, limit: int = MAX_HEADLINES) -> list[Headline]:
    """Top headlines, at most one per URL (the alert already has one per story)."""
    seen: set[str] = set()
    chosen: list[Headline] = []
    for headline in alert.headlines:
        key = headline.url.strip() or headline.title.strip()
        if key in seen:
            continue
        seen.add(key)
        chosen.append(headline)
        if len(chosen) == limit:
            break
    return chosen


def one_line(value: str) -> str:
    """``value`` on one line: control characters and runs of white space become one space."""
    return " ".join(_CONTROL.sub(" ", value).split())


def _spikes(count: int) -> str:
    return "spike" if count == 1 else "spikes"


def _digest_date(alert: Alert) -> str:
    return one_line(alert.extra.get("date", f"{alert.bucket_end:%Y-%m-%d}"))


def _window(alert: Alert) -> str:
    start, end = alert.bucket_start, alert.bucket_end
    if start.date() == end.date() or (end - start).total_seconds() <= 86400:
        return f"between {start:%Y-%m-%d %H:%M} and {end:%H:%M} UTC"
    return f"between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC"
