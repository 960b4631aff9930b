"""End-to-end crawl throughput over the shared real-news corpora, against the ceiling.

    .venv/bin/python bench/bench_crawl.py [--per-feed 40]

Serves every corpus page (fundus + newspaper4k) from the local newsroom server behind
generated RSS feeds, runs ``mediawatch init`` and ``mediawatch crawl --once`` in a
subprocess on a fresh SQLite database, and prints articles/s, the crawl process's peak
memory, and the ratio to the ceiling: ``spiders.parsing.extract`` over the same pages in one
process with no network (``bench_extract.ceiling``). The target is a ratio >= 0.7.
Prints figures, asserts nothing; without the corpora it says so and exits 0.
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
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from bench_extract import ceiling, load_corpus_pages  # noqa: E402
from support.newsroom import Newsroom, Reply  # noqa: E402


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


def write_config(folder: Path, feeds: list[str]) -> Path:
    sources = "\n".join(
        f'[[sources]]\nname = "corpus {n}"\nurl = "{url}"\n' for n, url in enumerate(feeds)
    )
    config = folder / "config.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{folder / "bench.db"}"\n\n[crawl]\n'
        'allow_private_networks = true\ndelay = "1ms"\nconcurrency = 16\n'
        'concurrency_per_domain = 16\ntimeout = "30s"\n\n'
        '[[clusters]]\nname = "Iraq"\nterms = ["Iraq", "Baghdad", "Syria"]\n\n' + sources,
        encoding="utf-8",
    )
    return config


def mediawatch(config: Path, *args: str) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MEDIAWATCH_DB_URL", None)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mediawatch", "--config", str(config), "--log-level", "ERROR",
         *args],
        capture_output=True, text=True, cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    return time.perf_counter() - started, done.stdout


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
    try:
        feeds = serve(room, pages, args.per_feed)
        with tempfile.TemporaryDirectory() as folder:
            config = write_config(Path(folder), feeds)
            mediawatch(config, "init")
            seconds, out = mediawatch(config, "crawl", "--once", "--format", "json")
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            rows = json.loads(out)
            stored = sum(row["new"] + row["duplicates"] for row in rows)
            errors = [row for row in rows if row["status"] == "error"]
            # The fixed cost of a crawl process (interpreter, Scrapy, reactor): a 304 run.
            baseline, _ = mediawatch(config, "crawl", "--once", "--format", "json")
    finally:
        room.stop()
    page_hits = sum(count for (_, path), count in room.requests.items() if "/articles/" in path)
    rate = stored / seconds
    steady = stored / max(seconds - baseline, 1e-9)
    print(
        f"crawl: {stored} articles stored of {len(pages)} pages ({page_hits} page fetches, "
        f"{len(feeds)} feeds, {len(errors)} feed errors) in {seconds:.1f}s"
    )
    print(
        f"crawl: {rate:.1f} articles/s end to end; {steady:.1f} articles/s without the "
        f"{baseline:.1f}s fixed cost of a crawl process (a second, all-304 crawl)"
    )
    print(f"crawl: peak memory of the crawl process {peak_mb:.0f} MB")
    from spiders.parsing.extract import extract_article

    extract_article(pages[0][1], pages[0][0])  # warm up, as the crawl's first page does
    top = ceiling(pages)
    print(f"ceiling: {top:.1f} pages/s (extraction alone, one process, no network)")
    print(f"ratio: {rate / top:.2f} end to end, {steady / top:.2f} steady (target >= 0.7)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
