"""Episodes: one alert when a spike opens, one update at most, hysteresis, cooldown, backlog."""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts.episodes import BucketVerdict, EpisodePolicy, advance

T0 = datetime(2026, 11, 20, 0, 0)
HOUR = timedelta(hours=1)
POLICY = EpisodePolicy(bucket=HOUR, cooldown=timedelta(hours=6), close_after=3)


def bucket(i: int, count: int, tail: float, backlog: float = 0.0) -> BucketVerdict:
    return BucketVerdict(
        start=T0 + i * HOUR,
        count=count,
        expected=2.0,
        tail_probability=tail,
        spike=tail < 0.001 and count >= 5,
        sources=3,
        backlog_fraction=backlog,
    )


def series(*pairs: tuple[int, float]) -> list[BucketVerdict]:
    return [bucket(i, count, tail) for i, (count, tail) in enumerate(pairs)]


QUIET = (2, 0.5)


def kinds(transitions) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    return [(t.kind, int((t.verdict.start - T0) / HOUR)) for t in transitions]


def test_a_long_spike_opens_once() -> None:
    state, transitions = advance(None, series(QUIET, (12, 1e-6), (14, 1e-7), (13, 1e-6)), POLICY)
    assert kinds(transitions) == [("open", 1)]
    assert state is not None and state.status == "open" and state.peak_count == 14


def test_one_update_when_the_count_doubles() -> None:
    verdicts = series(QUIET, (10, 1e-5), (21, 1e-9), (45, 1e-12), (60, 1e-14))
    state, transitions = advance(None, verdicts, POLICY)
    assert kinds(transitions) == [("open", 1), ("update", 2)]
    assert state is not None and state.updates == 1 and state.peak_count == 60


def test_closes_after_quiet_buckets_with_hysteresis() -> None:
    # 0.01 is not a spike any more, but not quiet either (quiet means tail >= 0.05).
    verdicts = series(QUIET, (12, 1e-6), (7, 0.01), QUIET, QUIET, (7, 0.01), QUIET, QUIET, QUIET)
    state, transitions = advance(None, verdicts, POLICY)
    assert kinds(transitions) == [("open", 1), ("close", 8)]
    assert state is not None and state.status == "closed"
    assert state.closed_at == T0 + 9 * HOUR


def test_cooldown_stops_a_second_alert_soon_after() -> None:
    verdicts = series(QUIET, (12, 1e-6), QUIET, QUIET, QUIET)  # closes at the end of hour 4
    state, transitions = advance(None, verdicts, POLICY)
    assert kinds(transitions) == [("open", 1), ("close", 4)]
    soon = [bucket(8, 15, 1e-7)]  # 3 h after the close: inside the 6 h cooldown
    state, transitions = advance(state, soon, POLICY)
    assert transitions == []
    later = [bucket(11, 15, 1e-7)]  # 6 h after the close
    _, transitions = advance(state, later, POLICY)
    assert kinds(transitions) == [("open", 11)]


def test_replaying_the_same_buckets_changes_nothing() -> None:
    verdicts = series(QUIET, (12, 1e-6), (30, 1e-9), QUIET)
    state, first = advance(None, verdicts, POLICY)
    again, second = advance(state, verdicts, POLICY)
    assert kinds(first) == [("open", 1), ("update", 2)]
    assert second == [] and again == state


def test_a_backlog_burst_after_an_outage_is_not_news() -> None:
    verdicts = [bucket(0, *QUIET), bucket(1, 30, 1e-9, backlog=0.8), bucket(2, *QUIET)]
    state, transitions = advance(None, verdicts, POLICY)
    assert transitions == [] and state is None
    # Mostly fresh stories with a little backlog mixed in still open.
    _, transitions = advance(None, [bucket(1, 30, 1e-9, backlog=0.2)], POLICY)
    assert kinds(transitions) == [("open", 1)]


def test_a_partial_bucket_may_open_early_and_is_judged_again_when_complete() -> None:
    complete = series(QUIET, QUIET)
    partial = bucket(2, 9, 1e-5)
    state, transitions = advance(None, complete, POLICY, partial)
    assert kinds(transitions) == [("open", 2)]
    assert state is not None and state.last_bucket == T0 + HOUR
    # Same partial again: nothing new.
    _, transitions = advance(state, complete, POLICY, partial)
    assert transitions == []


def test_the_completed_onset_bucket_refreshes_the_counts_without_an_update() -> None:
    complete = series(QUIET, QUIET)
    state, transitions = advance(None, complete, POLICY, bucket(2, 9, 1e-5))
    assert kinds(transitions) == [("open", 2)]
    # The bucket it opened from, complete with more than twice the count: the same news.
    state, transitions = advance(state, [*complete, bucket(2, 20, 1e-9)], POLICY)
    assert transitions == []
    assert state is not None and state.status == "open"
    assert (state.opening_count, state.peak_count, state.updates) == (20, 20, 0)
    assert state.last_bucket == T0 + 2 * HOUR
    # Growth is measured from the complete onset count: 39 is not twice 20, 40 is.
    _, transitions = advance(state, [bucket(3, 39, 1e-10)], POLICY)
    assert transitions == []
    _, transitions = advance(state, [bucket(3, 40, 1e-10)], POLICY)
    assert kinds(transitions) == [("update", 3)]


def test_a_daily_bucket_reaching_past_the_cooldown_may_open() -> None:
    """Daily buckets: an episode closes at midnight, and the next day holds a spike. The
    cooldown (6 h) was compared with the bucket's start, midnight, so that day could never
    open an episode and its spike reached nobody; a day reaches 18 hours past it."""
    day = timedelta(days=1)
    policy = EpisodePolicy(bucket=day, cooldown=timedelta(hours=6), close_after=3)

    def daily(i: int, count: int, tail: float) -> BucketVerdict:
        spike = tail < 0.001 and count >= 5
        return BucketVerdict(T0 + i * day, count, 2.0, tail, spike, 3, 0.0)

    quiet = [daily(i, 1, 0.5) for i in (1, 2, 3)]
    verdicts = [daily(0, 12, 1e-6), *quiet, daily(4, 56, 1e-12)]
    _, transitions = advance(None, verdicts, policy)
    assert [(t.kind, t.verdict.start) for t in transitions] == [
        ("open", T0),
        ("close", T0 + 3 * day),
        ("open", T0 + 4 * day),
    ]
