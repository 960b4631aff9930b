"""Shared fixtures: real databases (SQLite files and the local PostgreSQL server).

PostgreSQL tests skip with a reason when the server is not reachable, unless
``MEDIAWATCH_REQUIRE_POSTGRES=1`` (CI sets it), in which case they fail.
Each PostgreSQL test gets a schema of its own, dropped afterwards.

A test that uses a server fixture is marked ``slow`` (or ``postgres``) here, at collection,
so ``make test-fast`` leaves it out; in a run without slow tests, a test that still starts a
process or listens on a port fails and says to mark it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from storage.engine import make_engine
from storage.migrate import upgrade

POSTGRES_SERVER = os.environ.get("MEDIAWATCH_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPORA = SHARED / "corpora"


def _postgres_available() -> str | None:
    """None when the server answers, else the reason it does not."""
    try:
        engine = create_engine(POSTGRES_SERVER.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means "not available"
        return f"PostgreSQL not reachable at {POSTGRES_SERVER}: {str(exc).splitlines()[0]}"
    return None


def require_postgres() -> None:
    reason = _postgres_available()
    if reason is None:
        return
    if os.environ.get("MEDIAWATCH_REQUIRE_POSTGRES") == "1":
        pytest.fail(reason + " (MEDIAWATCH_REQUIRE_POSTGRES=1)")
    pytest.skip(reason)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'mediawatch.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections live in a fresh schema of the test database."""
    require_postgres()
    schema = f"mw_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_SERVER.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_SERVER else "?"
    yield f"{POSTGRES_SERVER}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def migrated_engine(db_url: str) -> Iterator[Engine]:
    """An engine on a database upgraded to the head revision."""
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def now() -> datetime:
    """A fixed 'now' (naive UTC) so tests never depend on the clock."""
    return datetime(2026, 11, 20, 12, 0, 0)


@pytest.fixture
def corpora() -> Path:
    if not CORPORA.is_dir():
        pytest.skip(f"real news corpora not found at {CORPORA}")
    return CORPORA


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out[-400:]!r}, err={self.err[-400:]!r})"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run the mediawatch CLI in-process: ``cli("--config", path, "init")``."""
    from mediawatch.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:  # pragma: no cover - main always exits
            code = 0
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def write_config(tmp_path: Path, sqlite_url: str):  # type: ignore[no-untyped-def]
    """Write a config.toml into tmp_path; ``{db}`` in the text becomes a SQLite URL there."""

    def write(body: str, name: str = "config.toml") -> Path:
        path = tmp_path / name
        path.write_text(body.replace("{db}", sqlite_url), encoding="utf-8")
        return path

    return write


# -- what `make test-fast` leaves out ------------------------------------------------------

# Every fixture defined in these modules starts a server (or a browser) in this process.
SERVER_FIXTURE_MODULES = frozenset(
    {
        "support.browser",
        "support.newsroom",
        "support.slack_hook",
        "support.smtp_sink",
        "support.web",
    }
)
# Fixtures that need a server outside this process, by name, and the mark they imply.
MARK_FOR_FIXTURE = {"postgres_url": "postgres", "redis_prefix": "slow"}


def needed_marks(item: pytest.Item) -> set[str]:
    """The marks a test needs for the fixtures it uses, directly or through other fixtures
    (the definition that wins counts: test_detect's own ``newsroom`` is a database writer)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return set()
    marks = set()
    for name in info.names_closure:
        definitions = info.name2fixturedefs.get(name)
        if not definitions:
            continue
        if getattr(definitions[-1].func, "__module__", None) in SERVER_FIXTURE_MODULES:
            marks.add("slow")
        if name in MARK_FOR_FIXTURE:
            marks.add(MARK_FOR_FIXTURE[name])
    return marks


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by mark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for mark in sorted(needed_marks(item)):
            if item.get_closest_marker(mark) is None:
                item.add_marker(mark)


def _without_slow_tests(config: pytest.Config) -> bool:
    return "not slow" in " ".join(str(config.getoption("markexpr", "")).split())


@pytest.fixture(autouse=True)
def _fast_tests_stay_in_process(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a run that leaves slow tests out, starting a process or listening on a port fails
    the test: an unmarked one would make the quick run slow, or flaky, without saying so."""
    if request.node.get_closest_marker("slow") or not _without_slow_tests(request.config):
        return

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail(
            f"{request.node.nodeid} starts a process or a server: mark it slow "
            "(`make test-fast` runs without them)",
            pytrace=False,
        )

    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse)
    monkeypatch.setattr(socket.socket, "listen", refuse)


# Real protocol peers, as fixtures: the newsroom (HTTP), an SMTP sink, a Slack webhook; and a
# real browser (Chromium) for the desk.
from support.browser import chromium, open_tab, tab  # noqa: E402,F401
from support.newsroom import newsroom  # noqa: E402,F401
from support.slack_hook import slack_hook_fixture  # noqa: E402,F401
from support.smtp_sink import smtp_sink_fixture, smtp_tls_sink_fixture  # noqa: E402,F401
from support.web import desk_archive, guarded_desk, running_desk  # noqa: E402,F401
