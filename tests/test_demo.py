"""The offline demo, end to end: what a new user runs first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_detects_the_burst_and_alerts_once_by_console_and_email(
    tmp_path: Path, smtp_sink
) -> None:  # type: ignore[no-untyped-def]
    workdir = tmp_path / "demo"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mediawatch",
            "demo",
            "--workdir",
            str(workdir),
            "--watchlist",
            str(ROOT / "config.toml"),
            "--smtp",
            f"127.0.0.1:{smtp_sink.port}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert out.count("Spike: Interior Ministry") == 1, "one alert on the console"
    assert "Sources:     " in out and "Top headlines:" in out
    assert "demo done" in out
    subjects = [message["Subject"] for message in smtp_sink.messages]
    assert len(subjects) == 1 and "Interior Ministry" in subjects[0]
    body = smtp_sink.messages[0].get_body(("plain",)).get_content()
    assert "stories" in body and "mediawatch report" in body
    wire_copies = out.count("wire-copy")
    assert wire_copies == 0, "syndicated copies are not listed as separate headlines"
    report = workdir / "report.html"
    assert report.exists() and "Interior Ministry" in report.read_text(encoding="utf-8")
