"""A Telegram channel polled in distributed mode, for real: one ``run`` replica schedules it
and one ``worker`` crawls it, on one PostgreSQL schema and one Redis prefix. The channel's
page holds its posts, so the poll spawns no requests: each post is stored once, and the
poll settles and is recorded ``ok`` (not left unfinished); a second poll stores nothing.

Skips with a reason when PostgreSQL or Redis is not reachable (see ``tests/conftest.py``).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from support.newsroom import Newsroom
from support.processes import mediawatch_output, start_mediawatch, stop, wait_for
from support.redis_server import REDIS_SERVER, redis_prefix_fixture  # noqa: F401
from support.telegram_pages import Channel, Post, add_channel

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

NAME = "frontline"
SOURCE = f"tg {NAME}"
HOURS_AGO = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
TEXTS = [
    "Interior Ministry announces a night curfew in Basra after the port protests",
    "Rocket attack reported near Baghdad airport; no casualties, the army says",
    "Kurdistan parliament sets the date of its delayed session on the budget law",
    "Electricity grid in Nineveh restored after a week of rolling blackouts",
    "Oil exports through Ceyhan resume at half of their capacity before the halt",
    "Drought: the Tigris at Mosul is at its lowest level in forty years of records",
    "Football: Erbil club wins the cup final on penalties in a packed stadium",
]
FORWARDED = "Peshmerga and Iraqi army open joint patrols in the Kirkuk countryside"


def _channel() -> Channel:
    posts = [Post(201 + n, line, HOURS_AGO + timedelta(minutes=n)) for n, line in enumerate(TEXTS)]
    posts.insert(
        3,
        Post(
            301,
            FORWARDED,
            HOURS_AGO + timedelta(minutes=30),
            forwarded_from=("Kurdistan 24", "https://t.me/k24/9"),
        ),
    )
    return Channel(NAME, "Frontline News", posts)


@dataclass
class Deployment:
    """One ``run`` replica and one ``worker``, their logs, and the shared database."""

    config: Path
    url: str
    logs: Path
    processes: dict[str, subprocess.Popen[str]] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> subprocess.Popen[str]:
        with (self.logs / f"{name}.log").open("ab") as log:  # the child keeps its own copy
            process = start_mediawatch(self.config, *args, stdout=log, stderr=subprocess.STDOUT)
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def logs_tail(self) -> str:
        return "\n".join(f"--- {name}\n{self.log(name)[-2500:]}" for name in self.processes)

    def query(self, sql: str, **params: object) -> list[tuple[object, ...]]:
        engine = create_engine(self.url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.begin() as connection:
                result = connection.execute(text(sql), params)
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def polls(self) -> list[tuple[object, ...]]:
        """(status, new articles) of the channel's recorded polls, oldest first."""
        return self.query(
            "SELECT polls.status, polls.new_articles FROM polls "
            "JOIN sources ON sources.id = polls.source_id WHERE sources.name = :name "
            "ORDER BY polls.id",
            name=SOURCE,
        )

    def urls(self) -> list[str]:
        return [str(row[0]) for row in self.query("SELECT url FROM articles")]

    def status(self) -> dict[str, object]:
        rows = json.loads(mediawatch_output(self.config, "sources", "status", "--format", "json"))
        return next(row for row in rows if row["name"] == SOURCE)


@pytest.fixture
def room() -> Iterator[Newsroom]:
    room = Newsroom().start()
    yield room
    room.stop()


@pytest.fixture
def deployment(
    tmp_path: Path, postgres_url: str, redis_prefix: str, room: Newsroom
) -> Iterator[Deployment]:
    channel_url = add_channel(room, _channel())
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = "{postgres_url}"\n\n'
        '[crawl]\nallow_private_networks = true\ntimeout = "3s"\ndelay = "0s"\n'
        'concurrency_per_domain = 4\nmin_interval = "1m"\n\n'
        '[service]\ntick = "1s"\n\n'
        f'[distributed]\nredis_url = "{REDIS_SERVER}"\nkey_prefix = "{redis_prefix}"\n'
        'lease = "20s"\nleader_takeover = "3s"\n\n'
        '[[clusters]]\nname = "Peshmerga"\nterms = ["Peshmerga"]\n\n'
        f'[[sources]]\nname = "{SOURCE}"\nurl = "{channel_url}"\nkind = "telegram"\n',
        encoding="utf-8",
    )
    mediawatch_output(config, "init")
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Deployment(config, postgres_url, logs)
    yield running
    for process in running.processes.values():
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def test_a_channels_posts_are_stored_once_and_its_poll_is_recorded(
    deployment: Deployment, room: Newsroom
) -> None:
    channel = _channel()
    expected = {f"{room.base()}/{NAME}/{post.id}" for post in channel.posts}
    assert len(expected) == 8
    replica = deployment.start("replica", "run")
    worker = deployment.start("worker", "worker")

    # The first poll: every post stored once, under its t.me-style URL, and recorded.
    assert wait_for(lambda: deployment.polls(), timeout=60), (
        "the poll never finished",
        sorted(deployment.urls()),
        deployment.logs_tail(),
    )
    assert deployment.polls() == [("ok", 8)], deployment.polls()
    urls = deployment.urls()
    assert len(urls) == len(set(urls)) and set(urls) == expected, sorted(urls)
    assert room.hits(f"/s/{NAME}") == 1, "one request a channel a poll"
    forwarded = deployment.query(
        "SELECT author FROM articles WHERE url = :url", url=f"{room.base()}/{NAME}/301"
    )
    assert forwarded == [("Kurdistan 24",)]
    status = deployment.status()
    assert status["result"] == "ok" and status["last_poll"], status
    assert status["failures"] == 0 and status["healthy"] is True, status

    # "Poll now": the second poll finds every post known and stores nothing.
    deployment.query(
        "UPDATE sources SET next_poll_at = :now WHERE name = :name",
        now=datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=5),
        name=SOURCE,
    )
    assert wait_for(lambda: len(deployment.polls()) == 2, timeout=60), deployment.logs_tail()
    assert deployment.polls() == [("ok", 8), ("ok", 0)]
    assert room.hits(f"/s/{NAME}") == 2
    assert sorted(deployment.urls()) == sorted(expected)
    assert deployment.status()["result"] == "ok"

    assert stop(worker) == 0, deployment.log("worker")[-3000:]
    assert stop(replica) == 0, deployment.log("replica")[-3000:]
    assert "Traceback" not in deployment.log("worker") + deployment.log("replica")
