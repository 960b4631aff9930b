"""``--since``/``--until`` values: any duration or ISO date, from year 1 to 9999, with or
without a zone, gives a moment inside the supported range or a clear ``ConfigError``."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clock.periods import EARLIEST, LATEST, MAX_BUCKETS, check_bucket_count, parse_moment
from errors import ConfigError

EXAMPLES = int(os.environ.get("MEDIAWATCH_FUZZ_EXAMPLES", "100"))
NOW = datetime(2026, 11, 20, 12, 0)

zones = st.one_of(
    st.none(),
    st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m))),
)
moments = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    zones,
)
durations = st.builds(
    lambda number, unit: f"{number}{unit}",
    st.one_of(st.integers(1, 10**25), st.floats(0.001, 1e30).map(lambda f: f"{f:.3f}")),
    st.sampled_from(["ms", "s", "m", "h", "d", "w"]),
)


def spellings(moment: datetime) -> list[str]:
    iso = moment.isoformat()
    return [iso, iso.replace("+00:00", "Z"), moment.date().isoformat()]


def check(value: str) -> None:
    try:
        moment = parse_moment(value, NOW)
    except ConfigError as error:
        assert "\n" not in str(error) and repr(value) in str(error)
        return
    assert moment.tzinfo is None
    assert EARLIEST <= moment <= LATEST


@settings(max_examples=EXAMPLES, deadline=None)
@given(moment=moments)
def test_any_date_is_a_moment_in_range(moment: datetime) -> None:
    for value in spellings(moment):
        check(value)
    try:
        expected = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
    except OverflowError:
        return
    if EARLIEST <= expected <= LATEST:
        assert parse_moment(moment.isoformat(), NOW) == expected


@settings(max_examples=EXAMPLES, deadline=None)
@given(value=st.one_of(durations, st.text(max_size=30)))
def test_any_duration_or_text_is_a_moment_or_a_clear_error(value: str) -> None:
    check(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1000000d", EARLIEST),
        ("99999999999999999999999w", EARLIEST),
        ("0001-01-01T00:00+01:00", EARLIEST),
        ("0001-01-01", EARLIEST),
        ("9999-12-31T23:59:59-01:00", LATEST),
        ("7d", NOW - timedelta(days=7)),
        ("2026-01-31T10:00+02:00", datetime(2026, 1, 31, 8, 0)),
    ],
)
def test_out_of_range_moments_are_clamped(value: str, expected: datetime) -> None:
    assert parse_moment(value, NOW) == expected


def test_too_many_buckets_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="buckets") as caught:
        check_bucket_count(EARLIEST, NOW, timedelta(hours=1), "use --by day")
    assert "use --by day" in str(caught.value)
    check_bucket_count(NOW - timedelta(hours=MAX_BUCKETS), NOW, timedelta(hours=1), "")
