"""The detect job on a real database (SQLite and PostgreSQL): stories, not copies, from
several sources open one episode and queue one alert per channel, exactly once."""

from __future__ import annotations

import shlex
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError
from support.detect_fixtures import CLUSTER, PUBLISHERS, Newsroom, burst_hour, make_config

from alerts.backtest import backtest
from alerts.detect import run_detection
from alerts.message import Alert
from config.models import Config
from storage.engine import make_engine, session_factory, transaction
from storage.migrate import upgrade
from storage.models import AlertEpisode, OutboxMessage, Poll, Source


def detect(engine: Engine, config: Config, now: datetime):  # type: ignore[no-untyped-def]
    with transaction(session_factory(engine)) as session:
        return run_detection(session, config, now)


def outbox(engine: Engine) -> list[OutboxMessage]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def episodes(engine: Engine) -> list[AlertEpisode]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(AlertEpisode)))


@pytest.fixture
def newsroom(migrated_engine: Engine, now: datetime) -> Newsroom:
    room = Newsroom(migrated_engine)
    room.background(now, days=16)
    return room


def test_a_burst_of_stories_from_several_sources_opens_one_episode(
    migrated_engine: Engine, newsroom: Newsroom, now: datetime
) -> None:
    config = make_config()
    for i in range(16):
        when = burst_hour(now) + timedelta(minutes=3 * i)
        newsroom.story(
            when, PUBLISHERS[i % 4], copies=1 if i == 0 else 0, language="ar" if i % 3 else "en"
        )

    changes = detect(migrated_engine, config, now)

    assert [(c.cluster, c.kind) for c in changes] == [(CLUSTER, "open")]
    assert changes[0].observed == 16
    assert changes[0].expected < 4
    rows = outbox(migrated_engine)
    assert sorted(row.channel for row in rows) == ["console", "slack"]
    alert = Alert.from_json(rows[0].payload)
    assert alert.kind == "open"
    assert alert.cluster == CLUSTER
    assert alert.observed == 16 and alert.sources >= 4
    assert alert.tail_probability < config.detection.spike_threshold()
    assert set(alert.languages) == {"ar", "en"}
    assert 0 < len(alert.headlines) <= 5
    assert len({h.url for h in alert.headlines}) == len(alert.headlines)  # one per story
    top = alert.headlines[0]  # the story with a reprint is the most covered, shown once
    assert top.publisher == PUBLISHERS[0] and "copy" not in top.url
    assert all(h.publisher in PUBLISHERS for h in alert.headlines)
    assert alert.trend_command == f"mediawatch report --by hour --since 3d --cluster '{CLUSTER}'"
    assert alert.bucket_start == burst_hour(now)

    # The same data again, and again a few minutes later: nothing new.
    assert detect(migrated_engine, config, now) == []
    assert detect(migrated_engine, config, now + timedelta(minutes=20)) == []
    assert len(outbox(migrated_engine)) == 2
    assert len(episodes(migrated_engine)) == 1


def test_forty_copies_of_one_story_are_one_story(
    migrated_engine: Engine, newsroom: Newsroom, now: datetime
) -> None:
    newsroom.story(burst_hour(now) + timedelta(minutes=5), "reuters.com", copies=40)
    assert detect(migrated_engine, make_config(), now) == []
    assert outbox(migrated_engine) == []


def test_a_burst_from_one_publisher_is_not_a_spike(
    migrated_engine: Engine, newsroom: Newsroom, now: datetime
) -> None:
    for i in range(20):
        newsroom.story(burst_hour(now) + timedelta(minutes=2 * i), "ina.iq")
    assert detect(migrated_engine, make_config(), now) == []


def test_a_backlog_after_a_source_outage_is_not_news(
    migrated_engine: Engine, newsroom: Newsroom, now: datetime
) -> None:
    factory = session_factory(migrated_engine)
    with transaction(factory) as session:
        source = Source(
            name="Wire",
            url="https://wire.example/rss",
            next_poll_at=now,
            created_at=now - timedelta(days=30),
        )
        session.add(source)
        session.flush()
        source_id = source.id
        for hours_ago, status in ((30, "ok"), (20, "error"), (10, "error")):
            at = now - timedelta(hours=hours_ago)
            session.add(Poll(source_id=source_id, started_at=at, finished_at=at, status=status))
        recovered = burst_hour(now) + timedelta(minutes=30)
        session.add(
            Poll(
                source_id=source_id,
                started_at=recovered,
                finished_at=recovered + timedelta(minutes=2),
                status="ok",
                new_articles=18,
            )
        )
    # Undated items from the first good poll: seen_at is the fetch time, all in one hour.
    for i in range(18):
        at = recovered + timedelta(seconds=5 * i)
        newsroom.story(at, PUBLISHERS[i % 5], source_id=source_id, fetched_at=at)
    assert detect(migrated_engine, make_config(), now) == []


def test_backtest_reports_what_would_have_fired_without_writing(
    migrated_engine: Engine, newsroom: Newsroom, now: datetime
) -> None:
    burst = now - timedelta(days=2, hours=5)
    for i in range(15):
        newsroom.story(burst + timedelta(minutes=3 * i), PUBLISHERS[i % 5])
    with session_factory(migrated_engine)() as session:
        events = backtest(session, make_config(), now - timedelta(days=7), now)
    assert [(e.cluster, e.kind, e.bucket_start) for e in events] == [
        (CLUSTER, "open", burst.replace(minute=0))
    ]
    assert episodes(migrated_engine) == []
    with session_factory(migrated_engine)() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_the_trend_command_is_shell_safe() -> None:
    from alerts.wording import report_command

    name = "Ministry \"of\" $(rm -rf ~) `x` 'y'"
    assert shlex.split(report_command(name))[-2:] == ["--cluster", name]


def test_an_early_episode_is_not_updated_when_its_own_bucket_completes(
    migrated_engine: Engine, newsroom: Newsroom, now: datetime
) -> None:
    config = make_config()
    current = now.replace(minute=0)  # 12:00-13:00, partial until 13:00
    for i in range(16):
        newsroom.story(current + timedelta(minutes=i), PUBLISHERS[i % 5])
    early = now + timedelta(minutes=25)
    assert [c.kind for c in detect(migrated_engine, config, early)] == ["open"]
    # The rest of the hour brings more than as many again: still the same news.
    for i in range(20):
        newsroom.story(current + timedelta(minutes=30 + i), PUBLISHERS[i % 5])
    assert detect(migrated_engine, config, now + timedelta(hours=1, minutes=5)) == []
    assert [row.kind for row in outbox(migrated_engine)] == ["open", "open"]
    [episode] = episodes(migrated_engine)
    assert (episode.observed, episode.peak_count, episode.updates) == (36, 36, 0)


@pytest.mark.postgres
def test_two_detection_runs_at_once_open_one_episode(postgres_url: str, now: datetime) -> None:
    engine = make_engine(postgres_url)
    upgrade(engine)
    try:
        room = Newsroom(engine)
        room.background(now, days=16)
        for i in range(16):
            room.story(burst_hour(now) + timedelta(minutes=3 * i), PUBLISHERS[i % 5])
        config = make_config()
        start = threading.Barrier(2)
        results: list[list[object]] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with transaction(session_factory(engine)) as session:
                    start.wait()
                    results.append(list(run_detection(session, config, now)))
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert sorted(len(changes) for changes in results) == [0, 1]
        assert len(episodes(engine)) == 1
        assert sorted(row.channel for row in outbox(engine)) == ["console", "slack"]
    finally:
        engine.dispose()


def test_a_second_episode_for_the_same_onset_is_refused(
    migrated_engine: Engine, now: datetime
) -> None:
    def episode(session) -> AlertEpisode:  # type: ignore[no-untyped-def]
        return AlertEpisode(
            cluster=CLUSTER,
            status="open",
            onset_bucket=burst_hour(now),
            opened_at=now,
            last_bucket=burst_hour(now),
            observed=16,
            expected=2.0,
            tail_probability=1e-6,
            peak_count=16,
        )

    factory = session_factory(migrated_engine)
    with transaction(factory) as session:
        session.add(episode(session))
    with pytest.raises(IntegrityError), transaction(factory) as session:
        session.add(episode(session))
        session.flush()
    assert len(episodes(migrated_engine)) == 1


def test_upgrading_merges_episodes_the_race_duplicated(db_url: str, now: datetime) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0004")
        episode = (
            "INSERT INTO alert_episodes (id, cluster, status, onset_bucket, opened_at,"
            " last_bucket, observed, expected, tail_probability, peak_count, sources, updates,"
            " quiet_buckets) VALUES (:id, :cluster, 'open', :at, :at, :at, 16, 2.0, 1e-6, 16,"
            " 4, 0, 0)"
        )
        message = (
            "INSERT INTO alert_outbox (idempotency_key, episode_id, channel, kind, payload,"
            " status, attempts, next_attempt_at, created_at) VALUES (:key, :id, 'console',"
            " 'open', '{}', 'sent', 0, :at, :at)"
        )
        with engine.begin() as connection:
            for id_, cluster in ((1, CLUSTER), (2, CLUSTER), (3, "PMF")):
                connection.execute(text(episode), {"id": id_, "cluster": cluster, "at": now})
                connection.execute(text(message), {"key": f"{id_}:open", "id": id_, "at": now})
        upgrade(engine)
        assert sorted((e.id, e.cluster) for e in episodes(engine)) == [(1, CLUSTER), (3, "PMF")]
        assert [(m.idempotency_key, m.episode_id) for m in outbox(engine)] == [
            ("1:open", 1),
            ("2:open", 1),
            ("3:open", 3),
        ]
    finally:
        engine.dispose()
