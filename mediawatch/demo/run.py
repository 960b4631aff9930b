"""``mediawatch demo``: what a new user runs first, with no internet.

A local newsroom of six outlets serves two weeks of coverage; the real service (a
subprocess, as in production) crawls it; then the newsroom publishes a burst of reports
about Iraq's Interior Ministry; the service's next poll stores them, detection opens an
episode, and the console channel prints the alert. A trend report is written at the end.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clock.moments import utcnow
from config.load import load_config
from config.models import ClusterConfig
from errors import MediawatchError
from mediawatch.demo.content import OUTLETS, burst, history
from mediawatch.demo.server import DemoNewsroom

logger = logging.getLogger(__name__)

FALLBACK_CLUSTERS = """
[[clusters]]
name = "Interior Ministry"
terms = ["Interior Ministry", "Ministry of Interior", "Interior Minister", "وزارة الداخلية",
         "وزير الداخلية"]
context = ["Iraq", "Iraqi", "Baghdad", "العراق", "العراقية", "بغداد"]

[[clusters]]
name = "PMF"
terms = ["Popular Mobilization Forces", "Hashd al-Shaabi", "الحشد الشعبي"]
"""


@dataclass(frozen=True)
class DemoResult:
    workdir: Path
    articles: int
    alerts_sent: int
    report: Path | None
    seconds: float


def run_demo(
    workdir: Path,
    *,
    watchlist: Path | None,
    smtp: str | None = None,
    say: Callable[[str], None] = print,
    timeout: float = 100.0,
) -> DemoResult:
    started = time.monotonic()
    workdir = workdir.resolve()  # the config it writes works from any folder
    workdir.mkdir(parents=True, exist_ok=True)
    now = utcnow()
    room = DemoNewsroom().start()
    try:
        old = history(now)
        room.publish(old)
        config = workdir / "config.toml"
        database = workdir / "mediawatch.db"
        for stale in workdir.glob("mediawatch.db*"):  # each demo starts from nothing
            stale.unlink()
        config.write_text(demo_config(room, database, watchlist, smtp), encoding="utf-8")
        say(f"newsroom: {len(OUTLETS)} outlets on {room.base}, {len(old)} articles over two weeks")
        _mediawatch(config, "init")
        service = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mediawatch",
                "--config",
                str(config),
                "--log-level",
                "WARNING",
                "run",
            ]
        )
        try:
            say("service started; first crawl of the newsroom ...")
            _wait(
                lambda: _count(database, "SELECT count(*) FROM polls") >= len(OUTLETS),
                started + timeout,
                "the first crawl",
            )
            stored = _count(database, "SELECT count(*) FROM articles")
            say(
                f"stored {stored} articles; now the newsroom publishes a burst about Iraq's "
                "Interior Ministry ..."
            )
            news = burst(utcnow())
            room.publish(news)
            _wait(lambda: _all_sent(database), started + timeout, "the alert")
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=60)
        articles = _count(database, "SELECT count(*) FROM articles")
        sent = _count(database, "SELECT count(*) FROM alert_outbox WHERE status = 'sent'")
        report = workdir / "report.html"
        made = _mediawatch(
            config,
            "report",
            "--by",
            "hour",
            "--since",
            "3d",
            "--format",
            "html",
            "--output",
            str(report),
            check=False,
        )
        return DemoResult(
            workdir,
            articles,
            sent,
            report if made and report.exists() else None,
            time.monotonic() - started,
        )
    finally:
        room.stop()


def demo_config(
    room: DemoNewsroom, database: Path, watchlist: Path | None, smtp: str | None
) -> str:
    sources = "".join(
        f'[[sources]]\nname = {json.dumps(name)}\nurl = "{room.feed_url(i)}"\nevery = "5s"\n\n'
        for i, name in enumerate(OUTLETS)
    )
    email = ""
    if smtp:
        host, _, port = smtp.rpartition(":")
        email = (
            f'[[alerts.channels]]\ntype = "email"\nsmtp_host = "{host or "127.0.0.1"}"\n'
            f'smtp_port = {int(port)}\nfrom = "mediawatch-demo@localhost"\n'
            'to = ["analyst@localhost"]\n\n'
        )
    if os.environ.get("SLACK_WEBHOOK_URL"):  # post to Slack too when a webhook is set
        email += '[[alerts.channels]]\ntype = "slack"\nwebhook_url_env = "SLACK_WEBHOOK_URL"\n\n'
    return (
        f'[storage]\nurl = "sqlite:///{database}"\n\n'
        "[crawl]\nallow_private_networks = true  # the demo newsroom is on 127.0.0.1\n"
        'obey_robots = false\ndelay = "0s"\nconcurrency_per_domain = 8\n'
        'min_interval = "5s"\nmax_interval = "10s"\n\n'
        '[service]\ntick = "2s"\n\n'
        '[[alerts.channels]]\ntype = "console"\n\n'
        f"{email}{sources}{clusters_toml(watchlist)}"
    )


def clusters_toml(watchlist: Path | None) -> str:
    """The shipped watch-list's clusters (from config.toml) or a small built-in one."""
    if watchlist is None or not watchlist.exists():
        return FALLBACK_CLUSTERS
    clusters = load_config(watchlist, environ={}).clusters
    return "\n".join(_cluster_toml(cluster) for cluster in clusters)


def _cluster_toml(cluster: ClusterConfig) -> str:
    lines = ["[[clusters]]", f"name = {json.dumps(cluster.name, ensure_ascii=False)}"]
    for key in ("terms", "context", "exclude"):
        values = getattr(cluster, key)
        if values:
            lines.append(f"{key} = {json.dumps(list(values), ensure_ascii=False)}")
    if cluster.near:
        lines.append(f"near = {cluster.near}")
    if cluster.query:
        lines.append(f"query = {json.dumps(cluster.query, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def _mediawatch(config: Path, *args: str, check: bool = True) -> bool:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mediawatch",
            "--config",
            str(config),
            "--log-level",
            "WARNING",
            *args,
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 and check:
        raise MediawatchError(f"demo: `mediawatch {' '.join(args)}` failed: {done.stderr.strip()}")
    return done.returncode == 0


def _all_sent(database: Path) -> bool:
    """An alert is queued and every channel has taken it."""
    sent = _count(database, "SELECT count(*) FROM alert_outbox WHERE status = 'sent'")
    waiting = _count(database, "SELECT count(*) FROM alert_outbox WHERE status != 'sent'")
    return sent >= 1 and waiting == 0


def _count(database: Path, query: str) -> int:
    try:
        with sqlite3.connect(database, timeout=30) as connection:
            return int(connection.execute(query).fetchone()[0])
    except sqlite3.Error:
        return 0


def _wait(predicate: Callable[[], bool], deadline: float, what: str) -> None:
    while not predicate():
        if time.monotonic() > deadline:
            raise MediawatchError(f"demo: gave up waiting for {what}")
        time.sleep(0.5)
