"""The offline demo, end to end: what a new user runs first. A spike in the local newsroom
gives exactly one email and one Slack message, also across a restart of the service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_one_spike_one_email_one_slack_message_even_across_a_restart(
    tmp_path: Path, smtp_sink, slack_hook
) -> None:  # type: ignore[no-untyped-def]
    workdir = tmp_path / "demo"
    env = {**os.environ, "SLACK_WEBHOOK_URL": slack_hook.url}
    done = subprocess.run(
        [sys.executable, "-m", "mediawatch", "demo", "--workdir", str(workdir),
         "--watchlist", str(ROOT / "config.toml"), "--smtp", f"127.0.0.1:{smtp_sink.port}"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert out.count("Spike: Interior Ministry") == 1, "one alert on the console"
    assert "Sources:     " in out and "Top headlines:" in out
    assert "wire-copy" not in out, "syndicated copies are not listed as separate headlines"
    report = workdir / "report.html"
    assert report.exists() and "Interior Ministry" in report.read_text(encoding="utf-8")

    deadline = time.monotonic() + 30  # the service stops right after the first sent channel
    while time.monotonic() < deadline and not (smtp_sink.messages and slack_hook.accepted):
        time.sleep(0.2)
    restart = subprocess.Popen(
        [sys.executable, "-m", "mediawatch", "--config", str(workdir / "config.toml"), "run"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    time.sleep(12)  # several ticks, a detect and a deliver pass on the same archive
    restart.send_signal(signal.SIGTERM)
    _, err = restart.communicate(timeout=60)
    assert restart.returncode == 0, err[-2000:]

    subjects = [message["Subject"] for message in smtp_sink.messages]
    assert len(subjects) == 1 and "Interior Ministry" in subjects[0], subjects
    body = smtp_sink.messages[0].get_body(("plain",)).get_content()
    assert "observed" in body and "mediawatch report" in body
    payloads = slack_hook.slack_payloads()
    assert len(payloads) == 1, "one Slack message"
    assert "Interior Ministry" in payloads[0]["text"]
    assert not slack_hook.problems, slack_hook.problems
