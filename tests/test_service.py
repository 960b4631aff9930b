"""The background service as a real process: lock, health, graceful shutdown."""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from pathlib import Path

import pytest
from support.ports import free_port
from support.processes import start_mediawatch as mediawatch
from support.processes import wait_for

pytestmark = pytest.mark.slow


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


@pytest.fixture
def service_config(write_config, cli) -> tuple[Path, int]:  # type: ignore[no-untyped-def]
    port = free_port()
    path = write_config(
        f'[storage]\nurl = "{{db}}"\n[service]\nhttp = "127.0.0.1:{port}"\ntick = "1s"\n'
    )
    assert cli("--config", str(path), "init").code == 0
    return path, port


def test_a_second_service_on_the_same_database_refuses(service_config) -> None:  # type: ignore[no-untyped-def]
    path, port = service_config
    first = mediawatch(path, "run")
    try:
        assert wait_for(lambda: get(f"http://127.0.0.1:{port}/healthz")[0] == 200)
        second = mediawatch(path, "run")
        _, err = second.communicate(timeout=30)
        assert second.returncode == 2
        assert "another mediawatch service is already running" in err
        assert f"(pid {first.pid})" in err
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)


def test_the_lock_dies_with_the_process(service_config) -> None:  # type: ignore[no-untyped-def]
    path, port = service_config
    first = mediawatch(path, "run")
    assert wait_for(lambda: get(f"http://127.0.0.1:{port}/healthz")[0] == 200)
    first.kill()
    first.communicate(timeout=30)
    second = mediawatch(path, "run")
    try:
        assert wait_for(lambda: get(f"http://127.0.0.1:{port}/healthz")[0] == 200), "took over"
    finally:
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=30)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_service_cleanly(service_config, signum) -> None:  # type: ignore[no-untyped-def]
    path, port = service_config
    service = mediawatch(path, "--log-format", "json", "run")
    assert wait_for(lambda: get(f"http://127.0.0.1:{port}/healthz")[0] == 200)
    status, body = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200 and "mediawatch_queue_lag_seconds" in body
    health = json.loads(get(f"http://127.0.0.1:{port}/healthz")[1])
    assert health["ok"] is True and health["last_tick"]
    service.send_signal(signum)
    out, err = service.communicate(timeout=30)
    assert service.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(line["message"] == "mediawatch service stopped" for line in lines)
    assert "Traceback" not in out + err
    assert get(f"http://127.0.0.1:{port}/healthz")[0] == 0, "endpoint closed"


def test_run_refuses_an_uninitialised_database(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config('[storage]\nurl = "{db}"\n')
    process = mediawatch(path, "run", env={**os.environ})
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "run `mediawatch init` first" in err
