"""``alerts mute``/``unmute``/``mark``, ``alerts list`` showing them, ``alerts backtest``
precision against the marks, and the config errors of routing and digests."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from support.detect_fixtures import CLUSTER, PUBLISHERS, Newsroom, burst_hour

from alerts.feedback import MarkedEpisode, precision
from clock.moments import utcnow
from storage.engine import make_engine, session_factory, transaction
from storage.models import AlertEpisode

CONFIG = """
[storage]
url = "{db}"

[[clusters]]
name = "Interior Ministry"
terms = ["Interior Ministry"]

[[clusters]]
name = "PMF"
terms = ["Popular Mobilization Forces"]
"""


@pytest.fixture
def config_path(cli, write_config) -> str:  # type: ignore[no-untyped-def]
    path = str(write_config(CONFIG))
    assert cli("--config", path, "init").code == 0
    return path


def add_episode(db_url: str, cluster: str, onset: datetime, *, muted: bool = False) -> int:
    engine = make_engine(db_url)
    with transaction(session_factory(engine)) as session:
        episode = AlertEpisode(
            cluster=cluster,
            status="open",
            onset_bucket=onset,
            opened_at=onset + timedelta(minutes=50),
            last_bucket=onset,
            observed=16,
            expected=1.2,
            tail_probability=1e-6,
            peak_count=16,
            sources=4,
            muted=muted,
        )
        session.add(episode)
        session.flush()
        episode_id = episode.id
    engine.dispose()
    return episode_id


def listed(cli, config_path: str) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    result = cli("--config", config_path, "alerts", "list", "--format", "json")
    assert result.code == 0, result
    return json.loads(result.out)  # type: ignore[no-any-return]


# -- mute and unmute ----------------------------------------------------------------------


def test_mute_shows_in_alerts_list_until_unmuted(cli, config_path: str, sqlite_url: str) -> None:
    muted_episode = add_episode(sqlite_url, CLUSTER, utcnow() - timedelta(hours=3), muted=True)
    result = cli("--config", config_path, "alerts", "mute", CLUSTER, "--for", "24h")
    assert result.code == 0, result
    assert result.out.startswith(f"muted: {CLUSTER} until ")

    [row] = listed(cli, config_path)
    assert row["id"] == muted_episode
    assert row["muted"] is True
    assert row["delivery"] == "muted: not alerted"
    until = datetime.fromisoformat(str(row["muted_until"]))
    assert timedelta(hours=23) < until - utcnow() <= timedelta(hours=24)
    table = cli("--config", config_path, "alerts", "list")
    assert f"muted: {CLUSTER} until {until:%Y-%m-%d %H:%M} UTC" in table.out

    result = cli("--config", config_path, "alerts", "unmute", CLUSTER)
    assert result.code == 0 and result.out.strip() == f"unmuted: {CLUSTER}"
    [row] = listed(cli, config_path)
    assert row["muted_until"] is None and row["muted"] is True  # it opened while muted
    assert f"muted: {CLUSTER} until" not in cli("--config", config_path, "alerts", "list").out
    again = cli("--config", config_path, "alerts", "unmute", CLUSTER)
    assert again.code == 0 and again.out.strip() == f"{CLUSTER} was not muted"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["mute", "Nobody", "--for", "24h"], "no cluster 'Nobody' in the config"),
        (["unmute", "Nobody"], "no cluster 'Nobody' in the config"),
        (["mute", CLUSTER, "--for", "soon"], "invalid duration 'soon'"),
        (["mark", "1", "--useful"], "no alert episode 1"),
        (["mark", "1"], "exactly one of --useful and --false-alarm"),
        (["mark", "1", "--useful", "--false-alarm"], "exactly one of --useful and --false-alarm"),
    ],
)
def test_bad_mute_and_mark_arguments_are_one_clear_line_and_exit_2(
    cli, config_path: str, args: list[str], message: str
) -> None:
    result = cli("--config", config_path, "alerts", *args)
    assert result.code == 2, result
    assert message in result.err
    if "invalid duration" not in message:  # typer draws its own box for a bad option
        assert result.err.count("\n") == 1


# -- marks and backtest precision -----------------------------------------------------------


def test_mark_is_shown_in_alerts_list(cli, config_path: str, sqlite_url: str) -> None:
    episode = add_episode(sqlite_url, CLUSTER, utcnow() - timedelta(hours=2))
    result = cli("--config", config_path, "alerts", "mark", str(episode), "--false-alarm")
    assert result.code == 0 and result.out.strip() == f"episode {episode} marked a false alarm"
    assert listed(cli, config_path)[0]["mark"] == "false-alarm"
    cli("--config", config_path, "alerts", "mark", str(episode), "--useful")
    assert listed(cli, config_path)[0]["mark"] == "useful"


def test_backtest_reports_precision_against_the_marks(
    cli, config_path: str, sqlite_url: str
) -> None:
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    engine = make_engine(sqlite_url)
    room = Newsroom(engine)
    room.background(now, days=16)
    for i in range(16):
        room.story(burst_hour(now) + timedelta(minutes=3 * i), PUBLISHERS[i % 4])
    engine.dispose()
    backtest = ["--config", config_path, "alerts", "backtest", "--since", "3d"]

    events = json.loads(cli(*backtest, "--format", "json").out)
    [opened] = [event for event in events if event["kind"] == "open"]
    assert opened["cluster"] == CLUSTER
    none_yet = cli(*backtest)
    assert "precision: no marked episodes yet" in none_yet.out

    onset = datetime.fromisoformat(opened["bucket"])
    real = add_episode(sqlite_url, CLUSTER, onset)
    unopened = add_episode(sqlite_url, CLUSTER, onset - timedelta(days=2))  # no spike there
    other = add_episode(sqlite_url, "PMF", onset)  # the replay opens nothing for PMF
    for episode, verdict in ((real, "--useful"), (unopened, "--false-alarm"), (other, "--useful")):
        assert cli("--config", config_path, "alerts", "mark", str(episode), verdict).code == 0

    line = cli(*backtest).out.strip().splitlines()[-1]
    assert line == (
        f"precision: 100% (1 useful of 1 marked) overall ({CLUSTER} 100% (1 useful of 1 marked))"
    )
    cli("--config", config_path, "alerts", "mark", str(real), "--false-alarm")
    rows = json.loads(cli(*backtest, "--precision", "--format", "json").out)
    assert rows == [
        {"cluster": CLUSTER, "useful": 0, "false_alarms": 1, "marked": 1, "precision": 0.0},
        {"cluster": "all", "useful": 0, "false_alarms": 1, "marked": 1, "precision": 0.0},
    ]


def test_precision_counts_only_the_marked_episodes_the_replay_opens() -> None:
    hour = timedelta(hours=1)
    t = datetime(2026, 11, 1, 10)
    marks = [
        MarkedEpisode("A", t, t + 2 * hour, "useful"),
        MarkedEpisode("A", t + 24 * hour, t + 25 * hour, "false_alarm"),
        MarkedEpisode("A", t + 48 * hour, t + 48 * hour, "false_alarm"),  # not opened
        MarkedEpisode("B", t, t, "false_alarm"),
        MarkedEpisode("C", t, t, "useful"),  # no opens for C at all
    ]
    opened = [("A", t + hour), ("A", t + 24 * hour - hour), ("B", t), ("A", t + 72 * hour)]
    scores = precision(opened, marks, hour)
    assert [(s.cluster, s.useful, s.false_alarms, s.share) for s in scores] == [
        ("A", 1, 1, 0.5),
        ("B", 0, 1, 0.0),
        ("all", 1, 2, 1 / 3),
    ]
    assert precision([], [], hour)[-1].share is None


# -- config errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '[[alerts.channels]]\ntype = "console"\n\n[[clusters]]\nname = "PMF"\n'
            'terms = ["PMF"]\nchannels = ["slack-ops"]\n',
            """[clusters] "PMF" channels: unknown channel 'slack-ops' (configured: console)""",
        ),
        (
            '[alerts]\ntimezone = "Europe/Berlinn"\n',
            "[alerts] timezone: unknown timezone 'Europe/Berlinn'",
        ),
        (
            '[[alerts.channels]]\ntype = "console"\nmode = "digest"\nat = "7 am"\n',
            "[alerts] channels #1 at: invalid time of day '7 am' (write it like 07:00)",
        ),
        (
            '[[alerts.channels]]\ntype = "console"\nat = "07:00"\n',
            '[alerts] channels #1: at is only for mode = "digest"',
        ),
        (
            '[[alerts.channels]]\ntype = "console"\nmode = "weekly"\n',
            "[alerts] channels #1 mode:",
        ),
    ],
)
def test_routing_and_digest_config_errors_are_one_line(
    cli, write_config, body: str, expected: str
) -> None:
    result = cli("--config", str(write_config(body)), "alerts", "list")
    assert result.code == 2, result
    assert expected in result.err
    assert result.err.count("\n") == 1


@pytest.mark.parametrize("command", ["mute", "unmute", "mark"])
def test_new_commands_have_help_with_an_example(cli, command: str) -> None:
    result = cli("alerts", command, "--help")
    assert result.code == 0
    assert f"Example: mediawatch alerts {command}" in result.out
