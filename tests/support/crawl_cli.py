"""Running the real ``mediawatch`` command in a subprocess (the Twisted reactor starts
once per process), with its exit code, output and peak memory."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float
    peak_mb: float
    """Peak resident memory of this one crawl process."""


def mediawatch(config: Path, *args: str, timeout: float = 120) -> Run:
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MEDIAWATCH_DB_URL", None)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "mediawatch", "--config", str(config), *args],
            stdout=out, stderr=err, text=True, cwd=ROOT, env=env,
        )  # fmt: skip
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage
        timer.cancel()
        out.seek(0)
        err.seek(0)
        code = process.returncode = os.waitstatus_to_exitcode(status)
        return Run(code, out.read(), err.read(), time.perf_counter() - started,
                   usage.ru_maxrss / 1024)  # fmt: skip
