"""The CLI contract: init, sources, export, help, and one clear line for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import pytest
import typer

from mediawatch.cli import app
from storage.engine import make_engine, session_factory, transaction
from storage.models import Article, Mention

CONFIG = """
[storage]
url = "{db}"

[[sources]]
name = "Rudaw English"
url = "https://www.rudaw.net/english/rss"
every = "15m"

[[sources]]
name = "Al-Monitor"
url = "https://www.al-monitor.com/rss"
kind = "feed"

[[clusters]]
name = "PMF"
terms = ["Popular Mobilization Forces"]
"""


def test_init_creates_the_database_and_is_safe_to_repeat(cli, write_config, tmp_path) -> None:
    path = write_config(CONFIG)
    first = cli("--config", str(path), "init")
    assert first.code == 0, first
    assert "2 sources (2 added" in first.out
    assert (tmp_path / "data" / "mediawatch.db").exists()
    second = cli("--config", str(path), "init")
    assert second.code == 0, second
    assert "(0 added" in second.out


def test_sources_list_as_json(cli, write_config) -> None:
    path = write_config(CONFIG)
    result = cli("--config", str(path), "sources", "list", "--format", "json")
    assert result.code == 0, result
    rows = json.loads(result.out)
    assert [row["name"] for row in rows] == ["Rudaw English", "Al-Monitor"]
    assert rows[0]["every"] == "15m"


def test_sources_status_before_any_poll(cli, write_config) -> None:
    path = write_config(CONFIG)
    assert cli("--config", str(path), "init").code == 0
    result = cli("--config", str(path), "sources", "status", "--format", "json")
    assert result.code == 0, result
    rows = {row["name"]: row for row in json.loads(result.out)}
    assert rows["Rudaw English"]["result"] == "never polled"
    assert rows["Rudaw English"]["failures"] == 0


def test_export_writes_the_contract_fields(cli, write_config, sqlite_url, tmp_path) -> None:
    path = write_config(CONFIG)
    assert cli("--config", str(path), "init").code == 0
    engine = make_engine(sqlite_url)
    when = datetime(2026, 11, 20, 9, 30)
    with transaction(session_factory(engine)) as session:
        first = Article(
            url="https://a.example/1",
            publisher="a.example",
            title="الحشد الشعبي",
            text="body",
            language="ar",
            published_at=when,
            fetched_at=when,
            seen_at=when,
        )
        session.add(first)
        session.flush()
        first.story_id = first.id
        copy = Article(
            url="https://b.example/1",
            publisher="b.example",
            title="copy",
            summary="only summary",
            fetched_at=when,
            seen_at=when,
            story_id=first.id,
            duplicate_of_id=first.id,
            extracted=False,
        )
        session.add(copy)
        session.add(Mention(article=first, cluster="PMF", term="الحشد الشعبي", seen_at=when))
    engine.dispose()
    out = tmp_path / "out.jsonl"
    result = cli("--config", str(path), "export", "--format", "jsonl", "--output", str(out))
    assert result.code == 0, result
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert set(records[0]) == {
        "url",
        "title",
        "source",
        "published_at",
        "fetched_at",
        "language",
        "text",
        "clusters",
        "duplicate_of",
        "views",
    }
    assert records[0]["views"] is None  # a page, not a Telegram post
    assert records[0]["title"] == "الحشد الشعبي"
    assert records[0]["clusters"] == ["PMF"]
    assert records[0]["published_at"] == "2026-11-20T09:30:00Z"
    assert records[1]["duplicate_of"] == "https://a.example/1"
    assert records[1]["text"] == "only summary"
    assert records[1]["published_at"] is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[storage\n", "TOML syntax error"),
        ("[crawl]\nmin_interval = 5\nmax_interval = 'forever'\n", "max_interval"),
        ("[crawl]\nspeed = 3\n", "[crawl] speed: unknown key"),
        ("[crawl]\nallow_private_networks = 'maybe'\n", "allow_private_networks"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(cli, write_config, body, expected) -> None:
    path = write_config(body)
    result = cli("--config", str(path), "init")
    assert result.code == 2
    assert expected in result.err
    assert str(path) in result.err
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err


def test_missing_config_file(cli, tmp_path) -> None:
    result = cli("--config", str(tmp_path / "missing.toml"), "sources", "list")
    assert result.code == 2
    assert "config file not found" in result.err


def test_unreachable_database_is_one_line(cli, write_config) -> None:
    path = write_config('[storage]\nurl = "postgresql://127.0.0.1:1/none"\n')
    result = cli("--config", str(path), "init")
    assert result.code == 2
    assert "cannot" in result.err and "127.0.0.1" in result.err
    assert "Traceback" not in result.err


def test_unwritable_database_is_one_line(cli, write_config, tmp_path) -> None:
    (tmp_path / "blocker").write_text("")
    path = write_config(f'[storage]\nurl = "sqlite:///{tmp_path}/blocker/sub/x.db"\n')
    result = cli("--config", str(path), "init")
    assert result.code == 2
    assert "cannot create the folder" in result.err


def test_commands_refuse_a_database_that_was_never_initialised(cli, write_config) -> None:
    path = write_config(CONFIG)
    result = cli("--config", str(path), "export")
    assert result.code == 2
    assert "run `mediawatch init` first" in result.err


def test_db_url_from_the_environment_wins(cli, write_config, tmp_path, monkeypatch) -> None:
    path = write_config(CONFIG)
    other = tmp_path / "other.db"
    monkeypatch.setenv("MEDIAWATCH_DB_URL", f"sqlite:///{other}")
    assert cli("--config", str(path), "init").code == 0
    assert other.exists()


def _commands(group, prefix: str = ""):  # type: ignore[no-untyped-def]
    if hasattr(group, "commands"):
        for name, command in group.commands.items():
            yield from _commands(command, f"{prefix} {name}".strip())
    else:
        yield prefix, group


def test_every_command_has_help_with_an_example() -> None:
    commands = list(_commands(typer.main.get_command(app)))
    assert {"init", "export", "sources list"} <= {name for name, _ in commands}
    for name, command in commands:
        assert command.help and "Example:" in command.help, f"`{name}` needs help with an example"


@pytest.mark.slow
def test_python_dash_m_runs_the_cli(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mediawatch", "--config", str(tmp_path / "none.toml"), "init"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"mediawatch: error: {tmp_path / 'none.toml'}: config file not found"
    )
