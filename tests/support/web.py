"""A running desk for the web tests: uvicorn serving ``create_app(Desk(...))`` on a free
loopback port in a thread, over an archive written with the real store (``report_archive``),
and a plain HTTP client that never follows redirects (the tests look at them).

Fixtures: ``desk_archive`` (config.toml + a migrated SQLite archive with copies, Arabic and
hostile titles, an open episode), ``running_desk`` (no token) and ``guarded_desk`` (``TOKEN``).
Other web tests import them: ``from support.web import running_desk, desk_archive``.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import uvicorn
from sqlalchemy import Engine

from config.load import load_config
from config.models import Config
from mediawatch.web.app import create_app
from mediawatch.web.desk import Desk
from storage.engine import make_engine, session_factory, transaction
from storage.migrate import upgrade
from support.alert_episodes import open_episode
from support.ports import free_port
from support.report_archive import Archive, config_toml, make_archive

TOKEN = "desk-token-for-tests-7Qk2"
HOSTILE_TITLES = ("<script>alert(1)</script> PMF", '<img src=x onerror="alert(1)"> Hezbollah')
ARABIC_TITLE = "الحشد الشعبي يعلن انتشارا جديدا"


@dataclass
class DeskArchive:
    config_path: Path
    config: Config
    engine: Engine
    archive: Archive
    now: datetime
    ids: dict[str, int] = field(default_factory=dict)
    """Named articles: ``original``, ``copy``, ``arabic``, ``script``, ``img``, ``old``."""


def build_desk_archive(directory: Path, db_url: str, now: datetime) -> DeskArchive:
    """config.toml in ``directory`` and an archive at ``db_url``: stories over the last 15
    days (so "usual" has a history), a story with a copy, Arabic and hostile titles, and an
    open PMF episode."""
    path = directory / "config.toml"
    path.write_text(config_toml(db_url), encoding="utf-8")
    config = load_config(path, environ={})
    engine = make_engine(db_url)
    upgrade(engine)
    archive = make_archive(engine, now=now - timedelta(days=30))
    ids: dict[str, int] = {}
    for day in range(1, 15):
        archive.add(
            f"PMF day {day}",
            "The PMF held a parade.",
            now - timedelta(days=day, hours=3),
            publisher=f"p{day % 3}.example",
            source="Rudaw",
        )
    ids["old"] = archive.add(
        "Interior Ministry statement in Baghdad", "The Interior Ministry in Baghdad said.",
        now - timedelta(days=3), publisher="ina.example", source="Shafaq",
    )  # fmt: skip
    ids["original"] = archive.add(
        "PMF convoy moves north", "A Popular Mobilization Forces convoy moved north.",
        now - timedelta(hours=5), publisher="rudaw.example", source="Rudaw", summary="Convoy.",
    )  # fmt: skip
    ids["copy"] = archive.add(
        "PMF convoy moves north (wire)", "A Popular Mobilization Forces convoy moved north.",
        now - timedelta(hours=4), publisher="wire.example", copy_of=ids["original"],
    )  # fmt: skip
    ids["arabic"] = archive.add(
        ARABIC_TITLE, "أعلن الحشد الشعبي انتشارا جديدا قرب بغداد.", now - timedelta(hours=3),
        publisher="shafaq.example", language="ar", source="Shafaq",
    )  # fmt: skip
    ids["script"] = archive.add(
        HOSTILE_TITLES[0], "PMF text.", now - timedelta(hours=2), publisher="evil.example"
    )
    ids["img"] = archive.add(
        HOSTILE_TITLES[1], "Hezbollah text.", now - timedelta(hours=1), publisher="evil.example"
    )
    with transaction(session_factory(engine)) as session:
        open_episode(session, "PMF", now - timedelta(minutes=30))
    return DeskArchive(path, config, engine, archive, now, ids)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass
class RunningDesk:
    base: str
    desk: Desk
    port: int

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Reply:
        """One request; ``params`` values may be lists (the name repeats)."""
        if params:
            path += ("&" if "?" in path else "?") + urlencode(params, doseq=True)
        sent = dict(headers or {})
        if form is not None:
            body = urlencode(form).encode()
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=sent)
            answer = connection.getresponse()
            return Reply(answer.status, answer.headers, answer.read())
        finally:
            connection.close()

    def get(self, path: str, **options: Any) -> Reply:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> Reply:
        return self.request("POST", path, **options)


@contextmanager
def serve_desk(desk: Desk) -> Iterator[RunningDesk]:
    """``desk`` served on a free loopback port until the block ends."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(desk),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            server_header=False,
        )
    )
    thread = threading.Thread(target=server.run, name="test-desk", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the desk did not start")
        time.sleep(0.02)
    try:
        yield RunningDesk(f"http://127.0.0.1:{port}", desk, port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def desk_archive(tmp_path: Path, sqlite_url: str, now: datetime) -> Iterator[DeskArchive]:
    built = build_desk_archive(tmp_path, sqlite_url, now)
    yield built
    built.engine.dispose()


@pytest.fixture
def running_desk(desk_archive: DeskArchive) -> Iterator[RunningDesk]:
    """The desk on open loopback (no token)."""
    desk = Desk(desk_archive.config, desk_archive.engine, now=lambda: desk_archive.now)
    with serve_desk(desk) as running:
        yield running


@pytest.fixture
def guarded_desk(desk_archive: DeskArchive) -> Iterator[RunningDesk]:
    """The desk with an access token (``TOKEN``)."""
    desk = Desk(desk_archive.config, desk_archive.engine, TOKEN, now=lambda: desk_archive.now)
    with serve_desk(desk) as running:
        yield running
