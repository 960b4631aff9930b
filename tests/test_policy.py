"""Adaptive polling: busy sources are polled often, quiet and failing ones less."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spiders.polling.policy import UNHEALTHY_AFTER_FAILURES, Bounds, PollOutcome, next_schedule

BOUNDS = Bounds(timedelta(minutes=5), timedelta(hours=6))
NOW = datetime(2026, 11, 20, 12, 0)
QUARTER = timedelta(minutes=15)


def schedule(
    outcome: PollOutcome,
    interval: timedelta = QUARTER,
    failures: int = 0,
    last_success_at: datetime | None = NOW,
    jitter: float = 0.5,
):  # type: ignore[no-untyped-def]
    return next_schedule(
        outcome,
        interval=interval,
        failures=failures,
        last_success_at=last_success_at,
        bounds=BOUNDS,
        now=NOW,
        jitter=jitter,
    )


def test_a_busy_feed_is_polled_at_half_its_publishing_gap() -> None:
    times = [NOW - timedelta(minutes=20 * n) for n in range(10)]
    result = schedule(PollOutcome("ok", entries=10, new=3, entry_times=times))
    assert result.interval == timedelta(minutes=10)
    assert result.next_poll_at == NOW + timedelta(minutes=10)


def test_a_daily_feed_slows_down_to_the_bound() -> None:
    times = [NOW - timedelta(days=n) for n in range(10)]
    result = schedule(PollOutcome("ok", entries=10, new=1, entry_times=times))
    assert result.interval == BOUNDS.max_interval


def test_not_modified_grows_the_interval_by_half() -> None:
    result = schedule(PollOutcome("not_modified"))
    assert result.interval == timedelta(minutes=22, seconds=30)
    assert result.healthy and result.failures == 0


def test_mostly_new_entries_without_dates_shrinks_the_interval() -> None:
    result = schedule(PollOutcome("ok", entries=20, new=20))
    assert result.interval == timedelta(minutes=7, seconds=30)


def test_the_publishers_ttl_is_a_floor() -> None:
    times = [NOW - timedelta(minutes=2 * n) for n in range(10)]
    result = schedule(
        PollOutcome("ok", entries=10, new=5, entry_times=times, ttl=timedelta(hours=1))
    )
    assert result.next_poll_at == NOW + timedelta(hours=1)


def test_failures_back_off_exponentially_and_keep_the_normal_interval() -> None:
    delays = []
    failures = 0
    for _ in range(5):
        result = schedule(PollOutcome("error"), failures=failures)
        failures = result.failures
        delays.append(result.next_poll_at - NOW)
        assert result.interval == QUARTER
    assert delays == [QUARTER, QUARTER * 2, QUARTER * 4, QUARTER * 8, QUARTER * 16]
    result = schedule(PollOutcome("error"), failures=20)
    assert result.next_poll_at - NOW == BOUNDS.max_interval


@pytest.mark.parametrize("status", ["ok", "error"])
def test_a_retry_after_beyond_max_interval_waits_max_interval(status: str) -> None:
    huge = timedelta(seconds=10**12)  # what "Retry-After: 1000000000000" says
    result = schedule(PollOutcome(status, retry_after=huge))  # type: ignore[arg-type]
    assert result.next_poll_at == NOW + BOUNDS.max_interval


def test_one_impossible_date_does_not_throttle_a_busy_feed() -> None:
    times = [NOW - timedelta(minutes=20 * n) for n in range(10)]
    for odd in (datetime(1970, 1, 1), datetime(1, 1, 1), datetime(2999, 1, 1)):
        result = schedule(PollOutcome("ok", entries=11, new=3, entry_times=[*times, odd]))
        assert result.interval == timedelta(minutes=10), odd


def test_one_old_but_possible_date_does_not_throttle_a_busy_feed() -> None:
    times = [NOW - timedelta(minutes=20 * n) for n in range(10)]
    result = schedule(
        PollOutcome("ok", entries=11, new=3, entry_times=[*times, NOW.replace(year=2001)])
    )
    assert result.interval == timedelta(minutes=10)


def test_a_partial_poll_is_retried_soon_then_less_often() -> None:
    times = [NOW - timedelta(hours=2 * n) for n in range(10)]
    delays = []
    failures = 0
    for _ in range(4):
        result = schedule(
            PollOutcome("partial", entries=10, new=1, entry_times=times), failures=failures
        )
        failures = result.failures
        delays.append(result.next_poll_at - NOW)
        assert result.interval == timedelta(hours=1)  # the publishing rate still counts
    assert delays == [BOUNDS.min_interval * 2**n for n in range(4)]


def test_retry_after_is_honoured_on_failure() -> None:
    result = schedule(PollOutcome("error", retry_after=timedelta(hours=2)))
    assert result.next_poll_at == NOW + timedelta(hours=2)


def test_a_long_failing_source_is_marked_unhealthy_but_still_polled() -> None:
    result = schedule(
        PollOutcome("error"),
        failures=UNHEALTHY_AFTER_FAILURES,
        last_success_at=NOW - timedelta(days=3),
    )
    assert not result.healthy
    assert result.next_poll_at <= NOW + BOUNDS.max_interval
    brief = schedule(
        PollOutcome("error"),
        failures=UNHEALTHY_AFTER_FAILURES,
        last_success_at=NOW - timedelta(hours=1),
    )
    assert brief.healthy, "many quick failures within a day are not yet unhealthy"
    recovered = schedule(PollOutcome("ok", entries=3, new=1), failures=UNHEALTHY_AFTER_FAILURES)
    assert recovered.healthy and recovered.failures == 0


def test_jitter_spreads_sources_with_the_same_interval() -> None:
    early = schedule(PollOutcome("ok", entries=5, new=1), jitter=0.0).next_poll_at
    late = schedule(PollOutcome("ok", entries=5, new=1), jitter=0.999).next_poll_at
    assert late - early > timedelta(minutes=2)


@given(
    status=st.sampled_from(["ok", "not_modified", "partial", "error"]),
    entries=st.integers(0, 200),
    new=st.integers(0, 200),
    interval_minutes=st.integers(1, 1000),
    failures=st.integers(0, 50),
    jitter=st.floats(0, 0.999),
    gaps=st.lists(st.integers(0, 100_000), max_size=30),
    ttl=st.one_of(st.none(), st.integers(1, 10**6)),
    retry_after=st.one_of(st.none(), st.timedeltas(timedelta(0), timedelta(days=10**8))),
    odd_times=st.lists(st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31)), max_size=3),
)
def test_the_next_poll_always_stays_within_the_bounds(  # type: ignore[no-untyped-def]
    status, entries, new, interval_minutes, failures, jitter, gaps, ttl, retry_after, odd_times
) -> None:
    times = [NOW - timedelta(seconds=sum(gaps[: i + 1])) for i in range(len(gaps))]
    outcome = PollOutcome(
        status,
        entries=entries,
        new=min(new, entries),
        entry_times=times + odd_times,
        ttl=None if ttl is None else timedelta(seconds=ttl),
        retry_after=retry_after,
    )
    result = schedule(
        outcome, interval=timedelta(minutes=interval_minutes), failures=failures, jitter=jitter
    )
    delay = result.next_poll_at - NOW
    assert BOUNDS.min_interval * 0.9 <= delay <= BOUNDS.max_interval * 1.1
    if status != "error":  # a failure keeps the interval it had, for the recovery
        assert BOUNDS.min_interval <= result.interval <= BOUNDS.max_interval
