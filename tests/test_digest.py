"""The daily digest: due once per local day at its time, exactly once through the outbox."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from support.slack_hook import SlackHook, slack_hook_fixture, slack_problems  # noqa: F401
from support.smtp_sink import SmtpSink, smtp_sink_fixture  # noqa: F401

from alerts import render
from alerts.digest import digest_time, due_digest
from alerts.message import Alert, Headline
from config.channels import parse_clock_time
from config.load import parse_config
from config.models import Config
from scheduler.service import Service
from storage.engine import make_engine, session_factory, transaction
from storage.models import AlertEpisode, OutboxMessage

pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

EXAMPLES = int(os.environ.get("MEDIAWATCH_FUZZ_EXAMPLES", "60"))
BERLIN = ZoneInfo("Europe/Berlin")
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Pacific/Chatham",
    "America/St_Johns",
]


def local(day: date, hour: int, minute: int = 0, zone: ZoneInfo = BERLIN) -> datetime:
    """A local wall-clock time as the naive UTC the service's clock gives."""
    return (
        datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
    )


# -- the pure rule ----------------------------------------------------------------------


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    zone=st.sampled_from(ZONES).map(ZoneInfo),
    at=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 1, 1)),
    steps=st.lists(st.integers(min_value=1, max_value=6 * 60), min_size=1, max_size=60),
)
def test_a_digest_is_due_once_per_local_date_at_or_after_its_time(
    zone: ZoneInfo, at: time, start: datetime, steps: list[int]
) -> None:
    """Passes at any moments (at most 6 h apart): each local date gets at most one
    digest, never before its time, at the first pass at or after it; windows tile."""
    moments = [start]
    for minutes in steps:
        moments.append(moments[-1] + timedelta(minutes=minutes))
    last: date | None = None
    emitted = []
    previous_pass: datetime | None = None
    for now in moments:
        due = due_digest(now, at, zone, last)
        if due is not None:
            assert due.until <= now, "never before its time"
            assert due.until == digest_time(due.local_date, at, zone)
            assert previous_pass is None or previous_pass < due.until, "due at the first pass"
            assert last is None or due.local_date > last, "at most one per local date"
            if emitted:
                assert due.since == emitted[-1].until, "windows tile"
            emitted.append(due)
            last = due.local_date
        previous_pass = now
    dates = [due.local_date for due in emitted]
    assert len(dates) == len(set(dates))
    # Every digest time between the first and the last pass was served.
    first_day = start.replace(tzinfo=UTC).astimezone(zone).date() - timedelta(days=1)
    expected = {
        first_day + timedelta(days=n)
        for n in range((moments[-1] - start).days + 3)
        if moments[0] < digest_time(first_day + timedelta(days=n), at, zone) <= moments[-1]
    }
    assert expected <= set(dates)


@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25)])
@pytest.mark.parametrize("at", [time(7, 0), time(2, 30)])
def test_on_the_days_clocks_change_the_digest_is_due_once(day: date, at: time) -> None:
    last = day - timedelta(days=1)
    due_at = []
    moment = local(day, 0)
    while moment < local(day + timedelta(days=1), 0):
        due = due_digest(moment, at, BERLIN, last)
        if due is not None:
            due_at.append(moment)
            last = due.local_date
            assert due.local_date == day
        moment += timedelta(minutes=10)
    assert len(due_at) == 1
    # 07:00 is 07:00 local either way; 02:30 does not exist on 29 March (03:30 instead)
    # and happens twice on 25 October (the first one counts).
    hour = 3 if (at == time(2, 30) and day.month == 3) else at.hour
    assert due_at[0].replace(tzinfo=UTC).astimezone(BERLIN).time() == time(hour, at.minute)


# -- end to end: the SMTP sink receives the digest exactly once --------------------------

CLUSTERS = ["Interior Ministry", "PMF"]


def digest_config(smtp_sink: SmtpSink, db_url: str) -> Config:
    return parse_config(
        {
            "storage": {"url": db_url},
            "clusters": [{"name": name, "terms": [name]} for name in CLUSTERS],
            "alerts": {
                "timezone": "Europe/Berlin",
                "channels": [
                    {
                        "type": "email",
                        "name": "morning-mail",
                        "mode": "digest",
                        "at": "07:00",
                        "smtp_host": "127.0.0.1",
                        "smtp_port": smtp_sink.port,
                        "from": "mediawatch@example.org",
                        "to": ["desk@example.org"],
                        "timeout": "5s",
                    },
                ],
            },
        },
        environ={},
    )


def open_episode(engine: Engine, cluster: str, opened_at: datetime) -> int:
    with transaction(session_factory(engine)) as session:
        bucket = opened_at.replace(minute=0, second=0, microsecond=0)
        episode = AlertEpisode(
            cluster=cluster,
            status="open",
            onset_bucket=bucket,
            opened_at=opened_at,
            last_bucket=bucket,
            observed=23,
            expected=2.1,
            tail_probability=2e-5,
            peak_count=23,
            sources=6,
        )
        session.add(episode)
        session.flush()
        return episode.id


def deliver_at(engine: Engine, config: Config, moment: datetime) -> None:
    """One deliver job of a service whose clock says ``moment``."""
    Service(config, Path("config.toml"), engine, clock=lambda: moment).deliver()


def test_a_digest_channel_gets_one_message_with_the_days_episodes_at_its_time(
    migrated_engine: Engine, db_url: str, smtp_sink: SmtpSink
) -> None:
    config = digest_config(smtp_sink, db_url)
    day = date(2026, 11, 20)
    first = open_episode(migrated_engine, "Interior Ministry", local(day - timedelta(days=1), 14))
    second = open_episode(migrated_engine, "PMF", local(day, 3, 20))

    deliver_at(migrated_engine, config, local(day, 6, 59))
    assert smtp_sink.messages == []  # not before its time

    deliver_at(migrated_engine, config, local(day, 7, 0))
    deliver_at(migrated_engine, config, local(day, 7, 1))  # a second pass
    restarted = make_engine(db_url)  # a new process: a new engine, a new service
    try:
        deliver_at(restarted, config, local(day, 7, 30))
        deliver_at(restarted, config, local(day, 21, 0))
    finally:
        restarted.dispose()

    [message] = smtp_sink.messages
    assert message["Subject"] == "mediawatch daily digest 2026-11-20: 2 spikes"
    assert message["X-Mediawatch-Ref"] == "digest:morning-mail:2026-11-20"
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Spike: Interior Ministry, 23 stories (usually 2.1)" in body
    assert "Spike: PMF, 23 stories (usually 2.1)" in body
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Interior Ministry" in html and "PMF" in html
    with session_factory(migrated_engine)() as session:
        [row] = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "digest"))
    assert row.status == "sent" and row.episode_id is None
    digest = Alert.from_json(row.payload)
    assert [entry.episode_id for entry in digest.entries] == [first, second]


def test_no_digest_on_a_day_without_episodes_and_the_next_one_lists_only_new_ones(
    migrated_engine: Engine, db_url: str, smtp_sink: SmtpSink
) -> None:
    config = digest_config(smtp_sink, db_url)
    day = date(2026, 11, 20)
    deliver_at(migrated_engine, config, local(day, 7, 5))
    assert smtp_sink.messages == []  # nothing to say: nothing sent

    open_episode(migrated_engine, "PMF", local(day, 9))
    deliver_at(migrated_engine, config, local(day, 10))
    assert smtp_sink.messages == []  # today's digest time has passed: tomorrow's
    deliver_at(migrated_engine, config, local(day + timedelta(days=1), 7))
    open_episode(migrated_engine, "Interior Ministry", local(day + timedelta(days=1), 12))
    deliver_at(migrated_engine, config, local(day + timedelta(days=2), 7))
    subjects = [message["Subject"] for message in smtp_sink.messages]
    assert subjects == [
        "mediawatch daily digest 2026-11-21: 1 spike",
        "mediawatch daily digest 2026-11-22: 1 spike",
    ]
    second = smtp_sink.messages[1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Interior Ministry" in second and "PMF" not in second


@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25)])
def test_the_digest_is_sent_once_on_the_day_clocks_change(
    migrated_engine: Engine, db_url: str, smtp_sink: SmtpSink, day: date
) -> None:
    config = digest_config(smtp_sink, db_url)
    open_episode(migrated_engine, "PMF", local(day - timedelta(days=1), 18))
    sent_at = []
    moment = local(day, 0)
    while moment <= local(day, 12):
        deliver_at(migrated_engine, config, moment)
        if len(smtp_sink.messages) > len(sent_at):
            sent_at.append(moment)
        moment += timedelta(minutes=30)
    assert len(smtp_sink.messages) == 1
    assert sent_at[0] == local(day, 7, 0)
    assert smtp_sink.messages[0]["X-Mediawatch-Ref"] == f"digest:morning-mail:{day}"


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(st.text(max_size=12), st.from_regex(r"\s*\d{1,2}:\d{2}\s*", fullmatch=True)))
def test_a_digest_time_in_the_config_is_a_time_of_day_or_one_clear_error(value: str) -> None:
    try:
        parsed = parse_clock_time(value)
    except ValueError as exc:
        assert "write it like 07:00" in str(exc)
    else:
        assert parse_clock_time(f"{parsed:%H:%M}") == parsed
        assert parsed.second == 0 and parsed == parse_clock_time(value.strip())


def test_a_long_slack_digest_stays_within_slacks_limits() -> None:
    start = datetime(2026, 11, 19, 6)
    entry = Alert(
        kind="open",
        cluster="<!channel> & PMF",
        bucket_start=start,
        bucket_end=start + timedelta(hours=1),
        observed=16,
        expected=1.2,
        tail_probability=1e-6,
        sources=4,
        headlines=tuple(
            Headline(title=f"story <{n}> | x", url=f"https://example.org/{n}", publisher="p")
            for n in range(8)
        ),
        episode_id=1,
    )
    digest = Alert(
        kind="digest",
        cluster="PMF",
        bucket_start=start,
        bucket_end=start + timedelta(days=1),
        observed=60,
        expected=0.0,
        tail_probability=1.0,
        sources=0,
        extra={"date": "2026-11-20"},
        entries=(entry,) * 60,
    )
    payload = render.slack_payload(digest, "digest:slack:2026-11-20")
    assert slack_problems(payload) == []
    assert "…and 20 more" in json.dumps(payload, ensure_ascii=False)
    assert "<!channel>" not in json.dumps(payload)
    assert Alert.from_json(digest.to_json()) == digest
