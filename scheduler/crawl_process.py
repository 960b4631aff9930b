"""One crawl run as a subprocess (``python -m mediawatch crawl --due``).

Why a subprocess: the Twisted reactor cannot restart, a hung crawl can be killed, and
its memory goes back to the system when it exits. The crawl gets its own process group
so a kill takes everything it started.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

GRACE_SECONDS = 20.0
"""How long a crawl may take to finish after SIGTERM before it is killed."""


@dataclass(frozen=True)
class CrawlRun:
    returncode: int | None
    duration: float
    timed_out: bool = False
    interrupted: bool = False


def crawl_command(
    config_path: Path, log_format: str, log_level: str = "INFO", extra: Sequence[str] = ()
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mediawatch",
        "--config",
        str(config_path),
        "--log-format",
        log_format,
        "--log-level",
        log_level,
        "crawl",
        "--due",
        *extra,
    ]


def run_crawl_process(
    command: Sequence[str],
    *,
    timeout: float,
    stop: threading.Event,
    grace: float = GRACE_SECONDS,
) -> CrawlRun:
    """Run ``command``; kill it after ``timeout`` seconds, or end it (within ``grace``)
    once ``stop`` is set. Its log lines go to our stderr; its summary table is dropped."""
    started = time.monotonic()
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.DEVNULL,
        start_new_session=True,
        env=os.environ.copy(),
        preexec_fn=_stop_with_parent,
    )
    deadline = started + timeout
    timed_out = interrupted = False
    while process.poll() is None:
        if stop.is_set() and not interrupted:
            interrupted = True
            logger.info("stopping: asking the running crawl (pid %s) to finish", process.pid)
            _signal_group(process, signal.SIGTERM)
            deadline = min(deadline, time.monotonic() + grace)
        if time.monotonic() >= deadline:
            timed_out = not interrupted
            logger.error(
                "crawl (pid %s) %s; killing it",
                process.pid,
                "did not stop in time" if interrupted else f"ran longer than {timeout:.0f}s",
            )
            _signal_group(process, signal.SIGKILL)
            process.wait()
            break
        stop.wait(0.2) if not interrupted else time.sleep(0.2)
    return CrawlRun(process.returncode, time.monotonic() - started, timed_out, interrupted)


def _stop_with_parent() -> None:
    """In the child: get SIGTERM when the service dies (even by ``kill -9``), so a crawl
    never runs on orphaned; it then finishes gracefully and records what it stored."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
