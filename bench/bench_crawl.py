"""End-to-end crawl throughput over the shared real-news corpora, against the ceiling.

    .venv/bin/python bench/bench_crawl.py [--per-feed 40]

Serves every corpus page (fundus + newspaper4k) from the local newsroom server behind
generated RSS feeds, runs ``mediawatch init`` and ``mediawatch crawl --once`` in a
subprocess on a fresh SQLite database, twice: with ``[crawl] workers = 0`` (extraction in
the crawl's own process: the baseline) and with the default workers (one per core). Prints
articles/s, CPU per article (the crawl's own process and its workers) and the ratio to
the ceiling: ``spiders.parsing.extract`` over the same pages from memory with no network,
in one process and on every core, and trafilatura alone (its README call) on every core.
The target is >= 0.8 of the all-cores ceiling. Prints figures, asserts nothing; without the corpora
it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from bench_extract import ceiling, load_corpus_pages  # noqa: E402
from support.newsroom import Newsroom, Reply  # noqa: E402

from spiders.crawler.extraction import default_workers, warm_up  # noqa: E402


def serve(room: Newsroom, pages: list[tuple[str, bytes, str | None]], per_feed: int) -> list[str]:
    """Route every page and one RSS feed per ``per_feed`` pages; returns the feed URLs."""
    now = format_datetime(datetime.now(UTC))
    feeds = []
    for start in range(0, len(pages), per_feed):
        items = []
        for number in range(start, min(start + per_feed, len(pages))):
            _url, html, _expected = pages[number]
            path = f"/articles/{number}.html"
            room.route(path, Reply(200, html, {"Content-Type": "text/html"}, conditional=True))
            items.append(
                f"<item><title>Article {number}</title><link>{room.url(path)}</link>"
                f"<pubDate>{now}</pubDate><description>summary {number}</description></item>"
            )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Corpus feed {start // per_feed}</title>{''.join(items)}</channel></rss>"
        ).encode()
        path = f"/feeds/{start // per_feed}.xml"
        room.route(
            path, Reply(200, body, {"Content-Type": "application/rss+xml"}, conditional=True)
        )
        feeds.append(room.url(path))
    return feeds


def write_config(folder: Path, feeds: list[str], workers: int | None = None) -> Path:
    sources = "\n".join(
        f'[[sources]]\nname = "corpus {n}"\nurl = "{url}"\n' for n, url in enumerate(feeds)
    )
    config = folder / "config.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{folder / "bench.db"}"\n\n[crawl]\n'
        'allow_private_networks = true\ndelay = "1ms"\nconcurrency = 16\n'
        'concurrency_per_domain = 16\ntimeout = "30s"\n'
        + ("" if workers is None else f"workers = {workers}\n")
        + '\n[[clusters]]\nname = "Iraq"\nterms = ["Iraq", "Baghdad", "Syria"]\n\n'
        + sources,
        encoding="utf-8",
    )
    return config


@dataclass(frozen=True)
class CrawlRun:
    stored: int
    seconds: float
    fixed: float
    """The fixed cost of a crawl process (interpreter, Scrapy, reactor): an all-304 run."""
    cpu: float
    """CPU seconds of the crawl process and its extraction workers (and forkserver)."""
    own_cpu: float
    """CPU seconds of the crawl process alone (Scrapy, feeds, dedupe, matching, the store)."""
    errors: int

    @property
    def rate(self) -> float:
        return self.stored / self.seconds

    @property
    def steady(self) -> float:
        return self.stored / max(self.seconds - self.fixed, 1e-9)


def crawl_once(feeds: list[str], workers: int | None) -> CrawlRun:
    """``init`` and ``crawl --once`` on a fresh database, then an all-304 crawl."""
    with tempfile.TemporaryDirectory() as folder:
        config = write_config(Path(folder), feeds, workers)
        mediawatch(config, "init")
        cpu = ProcessTreeCpu()
        seconds, out = mediawatch(config, "crawl", "--once", "--format", "json", cpu=cpu)
        rows = json.loads(out)
        fixed, _ = mediawatch(config, "crawl", "--once", "--format", "json")
    stored = sum(row["new"] + row["duplicates"] for row in rows)
    errors = sum(row["status"] == "error" for row in rows)
    return CrawlRun(stored, seconds, fixed, cpu.total, cpu.own, errors)


class ProcessTreeCpu:
    """CPU seconds of a process (exact, from ``wait4``) and of its descendants: the
    forkserver's extraction workers are not reaped by the crawl, so ``RUSAGE_CHILDREN``
    misses them; they are read from /proc every ``INTERVAL`` while they run (a reading is
    at most one interval late, when a worker is idle anyway)."""

    INTERVAL = 0.1

    def __init__(self) -> None:
        self.own = 0.0
        self._descendants: dict[int, float] = {}

    @property
    def total(self) -> float:
        return self.own + sum(self._descendants.values())

    def follow(self, root: int, exited: threading.Event) -> None:
        """Sample ``root``'s descendants until ``exited`` is set."""
        while not exited.wait(self.INTERVAL):
            self.sample(root)

    def sample(self, root: int) -> None:
        parents: dict[int, int] = {}
        times: dict[int, float] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            pid = int(stat.parent.name)
            parents[pid] = int(fields[1])
            times[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for pid, cpu in times.items():
            ancestor = parents[pid]
            while ancestor not in (root, 0, 1) and ancestor in parents:
                ancestor = parents[ancestor]
            if ancestor == root:
                self._descendants[pid] = max(cpu, self._descendants.get(pid, 0.0))


Extract = Callable[[tuple[str, bytes, str | None]], bool]


def all_cores_ceiling(
    pages: list[tuple[str, bytes, str | None]], workers: int, extract: Extract | None = None
) -> float:
    """Pages per second of extraction alone on ``workers`` processes, from memory:
    mediawatch's own (``spiders.parsing.extract``) unless ``extract`` says otherwise."""
    one = extract or _extract_one
    with ProcessPoolExecutor(workers, initializer=warm_up) as pool:
        list(pool.map(one, pages[: workers * 2]))  # started and warm
        started = time.perf_counter()
        list(pool.map(one, pages, chunksize=4))
        return len(pages) / (time.perf_counter() - started)


def _extract_one(page: tuple[str, bytes, str | None]) -> bool:
    from spiders.parsing.extract import extract_article

    return extract_article(page[1], page[0]) is not None


def _trafilatura_one(page: tuple[str, bytes, str | None]) -> bool:
    """trafilatura alone, called as its README does (``extract(html, url=...)``, its
    defaults: text only): the issue's ceiling. mediawatch's own extraction adds decoding,
    caps, metadata (title, date, author) and the language, and favours recall."""
    from trafilatura import extract

    return extract(page[1], url=page[0]) is not None


def mediawatch(config: Path, *args: str, cpu: ProcessTreeCpu | None = None) -> tuple[float, str]:
    """Seconds and stdout of one CLI run; ``cpu`` follows its processes' CPU time."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MEDIAWATCH_DB_URL", None)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "mediawatch", "--config", str(config), "--log-level", "ERROR",
             *args],
            stdout=stdout, stderr=stderr, cwd=ROOT, env=env,
        )  # fmt: skip
        exited = threading.Event()
        if cpu is not None:
            sampler = threading.Thread(target=cpu.follow, args=(process.pid, exited))
            sampler.start()
        _pid, status, usage = os.wait4(process.pid, 0)  # the exit, to the moment
        seconds = time.perf_counter() - started
        exited.set()
        process.returncode = os.waitstatus_to_exitcode(status)
        if cpu is not None:
            sampler.join()
            cpu.own = usage.ru_utime + usage.ru_stime
        stdout.seek(0)
        stderr.seek(0)
        if process.returncode:
            raise subprocess.CalledProcessError(
                process.returncode, args, stdout.read(), stderr.read()
            )
        return seconds, stdout.read().decode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-feed", type=int, default=40, help="entries per generated feed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    pages = load_corpus_pages()
    if not pages:
        print("no corpora at ../shared/corpora: nothing to measure")
        return 0
    room = Newsroom(hosts=("127.0.0.1",)).start()
    workers = default_workers()
    try:
        feeds = serve(room, pages, args.per_feed)
        one = crawl_once(feeds, workers=0)
        pooled = crawl_once(feeds, workers=None)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    finally:
        room.stop()
    print(f"crawl over {len(pages)} corpus pages behind {len(feeds)} feeds, 16 requests in flight")
    for label, run in (("one process (workers = 0)", one), (f"workers = {workers}", pooled)):
        print(
            f"  {label:<27} {run.stored} stored, {run.errors} feed errors in {run.seconds:.1f}s:"
            f" {run.rate:.1f} articles/s end to end, {run.steady:.1f} steady (less the"
            f" {run.fixed:.1f}s of an all-304 crawl); {run.cpu / max(run.stored, 1):.3f}"
            f" CPU-s per article ({run.own_cpu / max(run.stored, 1):.3f} in the crawl's own"
            f" process, {(run.cpu - run.own_cpu) / max(run.stored, 1):.3f} in its workers)"
        )
    print(f"  peak memory of one crawl process {peak_mb:.0f} MB (workers not included)")
    from spiders.parsing.extract import extract_article

    extract_article(pages[0][1], pages[0][0])  # warm up, as the crawl's first page does
    single = ceiling(pages)
    top = all_cores_ceiling(pages, workers)
    alone = all_cores_ceiling(pages, workers, _trafilatura_one)
    print(f"ceiling: {single:.1f} pages/s extraction alone in one process; {top:.1f} on {workers}")
    print(f"  trafilatura alone (its defaults, text only) on {workers}: {alone:.1f} pages/s")
    print(
        f"ratio to the all-cores ceiling: {pooled.steady / top:.2f} steady, "
        f"{pooled.rate / top:.2f} end to end (target >= 0.8); to trafilatura alone:"
        f" {pooled.steady / alone:.2f} steady, {pooled.rate / alone:.2f} end to end;"
        f" workers / one process: {pooled.steady / max(one.steady, 1e-9):.2f}x steady"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
