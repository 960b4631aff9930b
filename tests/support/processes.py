"""The real ``mediawatch`` command as a child process, and waiting on it: the one launcher
the process tests share (a crawl needs its own process: the Twisted reactor starts once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

Env = Mapping[str, str | None]
"""Variables to set in the child on top of :func:`child_env`; ``None`` unsets one."""


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float
    peak_mb: float
    """Peak resident memory of this one process."""


def child_env(extra: Env | None = None) -> dict[str, str]:
    """This process's environment with the checkout importable and no ``MEDIAWATCH_DB_URL``
    (the test's config file names the database), then ``extra``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MEDIAWATCH_DB_URL", None)
    for name, value in (extra or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def mediawatch_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "mediawatch", "--config", str(config), *args]


def start_mediawatch(
    config: Path, *args: str, env: Env | None = None, **popen: Any
) -> subprocess.Popen[str]:
    """Start ``mediawatch --config CONFIG ARGS`` from the checkout; stdout and stderr are
    pipes unless ``popen`` (``subprocess.Popen``'s keywords) says where they go."""
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(
        mediawatch_command(config, *args), text=True, cwd=ROOT, env=child_env(env), **popen
    )


def mediawatch(config: Path, *args: str, env: Env | None = None, timeout: float = 120) -> Run:
    """Run ``mediawatch --config CONFIG ARGS`` to the end (killed after ``timeout``)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = start_mediawatch(config, *args, env=env, stdout=out, stderr=err)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage
        timer.cancel()
        out.seek(0)
        err.seek(0)
        code = process.returncode = os.waitstatus_to_exitcode(status)
        return Run(code, out.read(), err.read(), time.perf_counter() - started,
                   usage.ru_maxrss / 1024)  # fmt: skip


def mediawatch_output(config: Path, *args: str, env: Env | None = None) -> str:
    """What ``mediawatch --config CONFIG ARGS`` prints; any other exit than 0 fails the test
    with the end of its stderr."""
    run = mediawatch(config, *args, env=env)
    assert run.code == 0, run.err[-3000:]
    return run.out


def wait_for(predicate: Callable[[], object], timeout: float = 60.0) -> bool:
    """Whether ``predicate()`` came true within ``timeout`` seconds (asked every 0.1 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def stop(process: subprocess.Popen[Any], timeout: float = 60.0) -> int:
    """SIGTERM to ``process`` if it still runs, and its exit code once it has stopped."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(timeout=timeout)
