"""``mediawatch report`` in every format, ``search`` and ``rematch`` from the command line."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from support.report_archive import Archive, config_toml, make_archive

from storage.engine import make_engine, session_factory, transaction
from storage.models import AlertEpisode

DAY = datetime(2026, 3, 4, 9, 0)
HOSTILE = "<script>alert(1)</script> PMF & co"
PERIOD = ("--since", "2026-03-01", "--until", "2026-03-08")


@pytest.fixture
def setup(tmp_path: Path, sqlite_url: str, cli) -> tuple[Path, Archive]:  # type: ignore[no-untyped-def]
    config = tmp_path / "config.toml"
    config.write_text(config_toml(sqlite_url), encoding="utf-8")
    assert cli("--config", str(config), "init").code == 0
    archive = make_archive(make_engine(sqlite_url))
    first = archive.add(HOSTILE, "The PMF moved north.", DAY, publisher="a.example")
    archive.add("PMF again", "The PMF moved north.", DAY + timedelta(hours=1),
                publisher="b.example", copy_of=first)  # fmt: skip
    archive.add("Hezbollah", "Hezbollah said.", DAY + timedelta(days=1), language="ar")
    bad = archive.add("javascript link", "PMF and more PMF.", DAY + timedelta(hours=2))
    with transaction(session_factory(archive.engine)) as session:
        from storage.models import Article

        session.get(Article, bad).url = "javascript:alert(2)"  # type: ignore[union-attr]
        session.add(
            AlertEpisode(
                cluster="PMF", status="closed", onset_bucket=DAY, opened_at=DAY,
                closed_at=DAY + timedelta(hours=5), last_bucket=DAY + timedelta(hours=2),
                observed=3, expected=0.5, tail_probability=1e-5, peak_count=2, sources=2,
                updates=0, quiet_buckets=3,
            )
        )  # fmt: skip
    return config, archive


def test_json_rows_follow_the_contract(setup, cli) -> None:  # type: ignore[no-untyped-def]
    config, _ = setup
    result = cli("--config", str(config), "report", "--by", "day", *PERIOD, "--format", "json")
    assert result.code == 0, result
    rows = json.loads(result.out)
    assert len(rows) == 7 * 5  # 7 days x 5 clusters, zeros included
    assert all(
        set(row) == {"cluster", "bucket", "articles", "stories", "sources", "share"} for row in rows
    )
    pmf = next(r for r in rows if r["cluster"] == "PMF" and r["bucket"] == "2026-03-04T00:00:00")
    assert (pmf["articles"], pmf["stories"], pmf["sources"]) == (3, 2, 3)


def test_csv_and_cluster_filter(setup, cli) -> None:  # type: ignore[no-untyped-def]
    config, _ = setup
    result = cli("--config", str(config), "report", "--by", "week", *PERIOD,
                 "--cluster", "Hezbollah", "--format", "csv")  # fmt: skip
    assert result.code == 0, result
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert [(r["cluster"], r["bucket"], r["stories"]) for r in rows] == [
        ("Hezbollah", "2026-02-23T00:00:00", "0"),
        ("Hezbollah", "2026-03-02T00:00:00", "1"),
    ]


def test_table_has_sparklines(setup, cli) -> None:  # type: ignore[no-untyped-def]
    config, _ = setup
    result = cli("--config", str(config), "report", "--by", "day", *PERIOD)
    assert result.code == 0, result
    assert "PMF" in result.out and any(bar in result.out for bar in "▁▂▃▄▅▆▇█")


def test_png_is_a_png(setup, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config, _ = setup
    target = tmp_path / "trends.png"
    result = cli("--config", str(config), "report", "--by", "hour", *PERIOD,
                 "--format", "png", "--output", str(target))  # fmt: skip
    assert result.code == 0, result
    data = target.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    assert str(target) in result.err


def test_html_escapes_scraped_text(setup, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config, _ = setup
    target = tmp_path / "trends.html"
    result = cli("--config", str(config), "report", *PERIOD, "--format", "html",
                 "--output", str(target))  # fmt: skip
    assert result.code == 0, result
    page = target.read_text(encoding="utf-8")
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; PMF &amp; co" in page
    assert "javascript:" not in page.replace("javascript link", "")
    assert 'href="https://a.example/' in page
    assert "data:image/png;base64," in page
    assert "Spike episodes" in page and "b.example" in page


def test_html_default_file_name(setup, cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config, _ = setup
    monkeypatch.chdir(tmp_path)
    result = cli("--config", str(config), "report", *PERIOD, "--format", "html")
    assert result.code == 0, result
    (written,) = tmp_path.glob("mediawatch-report-*.html")
    assert written.name in result.err


def test_bad_options(setup, cli) -> None:  # type: ignore[no-untyped-def]
    config, _ = setup
    assert cli("--config", str(config), "report", "--by", "month").code == 2
    assert cli("--config", str(config), "report", "--cluster", "Nobody").code == 2
    assert cli("--config", str(config), "report", "--format", "pdf").code == 2


def test_search_command(setup, cli) -> None:  # type: ignore[no-untyped-def]
    config, _ = setup
    result = cli("--config", str(config), "search", '"moved north"', "--format", "json")
    assert result.code == 0, result
    hits = json.loads(result.out)
    assert [h["title"] for h in hits] == ["PMF again", HOSTILE]
    assert hits[0]["snippet"] == "The PMF «moved north»."
    table = cli("--config", str(config), "search", "PMF", "--cluster", "PMF", "--limit", "1")
    assert table.code == 0 and "javascript link" in table.out
    bad = cli("--config", str(config), "search", '"unterminated')
    assert bad.code == 2 and "position 0" in bad.err


def test_rematch_command(setup, cli, tmp_path: Path, sqlite_url: str) -> None:  # type: ignore[no-untyped-def]
    config, _ = setup
    assert "0 changed" in cli("--config", str(config), "rematch").out
    changed = tmp_path / "changed.toml"
    changed.write_text(
        config_toml(sqlite_url).replace('"PMF", "الحشد', '"PMF", "north", "الحشد'),
        encoding="utf-8",
    )
    result = cli("--config", str(changed), "rematch", "--format", "json")
    assert result.code == 0, result
    summary = json.loads(result.out)
    assert summary["changed"] == 2
    assert summary["clusters"] == [{"cluster": "PMF", "added": 0, "removed": 0, "retermed": 2}]
