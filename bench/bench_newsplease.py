"""Crawl throughput against news-please on the same local newsroom, side by side in one run.

    .venv/bin/python bench/bench_newsplease.py [--rounds 1] [--pages N] [--via-launcher]

Serves every corpus page (fundus + newspaper4k) from one local newsroom behind one RSS
feed, then crawls it with news-please (its ``RssCrawler``, storing JSON files) and with
``mediawatch crawl --once`` (``[crawl] workers = 0`` and the default workers), both at the
same politeness: 4 requests in flight per host, no delay, robots.txt obeyed (the newsroom
has none). Prints articles stored / pages, articles/s, CPU-seconds per article (the
subprocess and its children) and the ratio mediawatch / news-please; the target is >= 8x.
news-please stores what its default article heuristics (og:type and headline links)
accept, so it stores fewer pages than it fetches.

news-please is not a dependency (its pins clash with ours): it runs from its own
virtualenv, the interpreter at ``$NEWSPLEASE_PYTHON`` or ``.venv-newsplease/bin/python``
(``make bench-newsplease`` creates it). Without it, or without the corpora, the bench
says so and exits 0; a news-please run that fails or times out is reported, not raised.

One feed, not bench_crawl's one per 40 pages: news-please's RssCrawler starts from the
site's root page and follows its first RSS ``<link>``, so one host serves it one feed.
By default the bench runs the crawl process news-please's launcher starts for a site
(``newsplease.single_crawler``, same arguments); ``--via-launcher`` runs the launcher
itself (``news-please -c DIR``), which only notices a finished crawl on its 10 s tick.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from bench_crawl import ProcessTreeCpu, mediawatch, serve, write_config  # noqa: E402
from bench_extract import load_corpus_pages  # noqa: E402
from support.newsroom import Newsroom, Reply  # noqa: E402

from spiders.crawler.extraction import default_workers  # noqa: E402

NEWSPLEASE_VERSION = "1.6.16"
# The combination measured on Python 3.11 (as `make bench-newsplease` installs it).
NEWSPLEASE_PINS = f"news-please=={NEWSPLEASE_VERSION} Scrapy==2.19.0 newspaper4k==0.9.6"
VENV = ROOT / ".venv-newsplease"
PER_HOST = 4
TARGET = 8.0
# news-please's newspaper extractor downloads each page's candidate top images from the
# page's own (real) hosts. There is no network here: send those requests to a closed
# local port so they fail at once, the fastest news-please can go; the newsroom is local.
OFFLINE = {
    **dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"),
                    "http://127.0.0.1:9"),
    **dict.fromkeys(("NO_PROXY", "no_proxy"), "127.0.0.1,localhost"),
}  # fmt: skip

# news-please's shipped config.cfg, trimmed to what an RSS crawl reads; the politeness
# is ours, the heuristics (og:type and headline links) are its defaults.
NEWSPLEASE_CONFIG = """\
[Crawler]
default = RssCrawler
fallbacks = {"RssCrawler": None}
check_crawler_has_urls_to_scan = False
check_certificate = True
hours_to_pass_for_redownload_by_rss_crawler = 6
number_of_parallel_crawlers = 1
number_of_parallel_daemons = 1
ignore_file_extensions = "(pdf)|(docx?)|(xlsx?)|(pptx?)|(epub)|(jpe?g)|(png)|(gif)|(zip)"
ignore_regex = "(mail[tT]o)|([jJ]avascript)|(tel)|(fax)"
sitemap_allow_subdomains = True
sitemap_patterns = []

[Heuristics]
enabled_heuristics = {"og_type": True, "linked_headlines": "<=0.65", \
"self_linked_headlines": "<=0.56"}
pass_heuristics_condition = "og_type and (linked_headlines or self_linked_headlines)"
min_headlines_for_linked_test = 5

[Files]
relative_to_start_processes_file = True
url_input_file_name = sitelist.hjson
working_path = @WORKING_PATH@
local_data_directory = %working_path/data/%appendmd5_full_domain(32)/\
%appendmd5_url_directory_string(60)_%appendmd5_max_url_file_name_%timestamp_download.html
format_relative_path = True

[ArticleMasterExtractor]
extractors = ['newspaper_extractor', 'readability_extractor', 'date_extractor', \
'lang_detect_extractor']

# Read by the launcher, unused: the pipelines below store JSON files only.
[MySQL]
[Postgresql]
[Elasticsearch]
[Redis]

[Scrapy]
LOG_LEVEL = ERROR
LOG_FORMAT = [%(name)s:%(lineno)d|%(levelname)s] %(message)s
LOG_FILE = None
LOG_DATEFORMAT = %Y-%m-%d %H:%M:%S
LOG_STDOUT = False
LOG_ENCODING = utf-8
BOT_NAME = 'news-please'
SPIDER_MODULES = ['newsplease.crawler.spiders']
NEWSPIDER_MODULE = 'newsplease.crawler.spiders'
JOBDIRNAME = .resume_jobdir
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = @PER_HOST@
DOWNLOAD_DELAY = 0
USER_AGENT = 'news-please (+http://www.example.com/)'
ITEM_PIPELINES = {'newsplease.pipeline.pipelines.ArticleMasterExtractor': 100, \
'newsplease.pipeline.pipelines.JsonFileStorage': 300}
ITEM_CLASS = 'newsplease.crawler.items.NewscrawlerItem'
"""


@dataclass(frozen=True)
class Run:
    label: str
    stored: int
    seconds: float
    cpu: float
    """CPU seconds of the crawl subprocess and everything it waited for."""

    @property
    def rate(self) -> float:
        return self.stored / self.seconds

    @property
    def cpu_per_article(self) -> float:
        return self.cpu / max(self.stored, 1)


class BaselineError(Exception):
    """news-please did not run to the end; the message says why."""


def newsplease_python() -> Path:
    return Path(os.environ.get("NEWSPLEASE_PYTHON") or VENV / "bin" / "python")


def installed_version(python: Path) -> str | None:
    """news-please's version in that interpreter, or None when it is not there."""
    if not os.access(python, os.X_OK):
        return None
    probe = "import importlib.metadata as m; print(m.version('news-please'))"
    done = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


def serve_site(room: Newsroom, pages: list[tuple[str, bytes, str | None]]) -> tuple[str, str]:
    """One feed of every page, and a root page announcing it; returns (site, feed) URLs."""
    (feed,) = serve(room, pages, per_feed=len(pages))
    home = (
        '<html><head><title>Corpus newsroom</title><link rel="alternate" '
        f'type="application/rss+xml" href="{feed}"></head><body></body></html>'
    )
    room.route("/", Reply(200, home.encode(), {"Content-Type": "text/html"}))
    return room.url("/"), feed


def polite_config(folder: Path, feed: str, workers: int | None) -> Path:
    """bench_crawl's config with news-please's politeness: PER_HOST in flight, no delay."""
    config = write_config(folder, [feed], workers)
    text = config.read_text(encoding="utf-8")
    for old, new in (
        ("concurrency_per_domain = 16", f"concurrency_per_domain = {PER_HOST}"),
        ('delay = "1ms"', 'delay = "0s"'),
    ):
        if text.count(old) != 1:
            raise SystemExit(
                f"bench_crawl.write_config no longer writes {old!r}: update this bench"
            )
        text = text.replace(old, new)
    config.write_text(text, encoding="utf-8")
    return config


def crawl_mediawatch(feed: str, workers: int | None, label: str) -> Run:
    with tempfile.TemporaryDirectory() as folder:
        config = polite_config(Path(folder), feed, workers)
        mediawatch(config, "init")
        cpu = ProcessTreeCpu()
        seconds, out = mediawatch(config, "crawl", "--once", "--format", "json", cpu=cpu)
    stored = sum(row["new"] + row["duplicates"] for row in json.loads(out))
    return Run(label, stored, seconds, cpu.total)


def write_newsplease_config(folder: Path, site: str) -> Path:
    config_dir = folder / "config"
    config_dir.mkdir()
    sites = {"base_urls": [{"url": site, "crawler": "RssCrawler"}]}
    (config_dir / "sitelist.hjson").write_text(json.dumps(sites), encoding="utf-8")
    config = NEWSPLEASE_CONFIG.replace("@WORKING_PATH@", str(folder / "work"))
    (config_dir / "config.cfg").write_text(
        config.replace("@PER_HOST@", str(PER_HOST)), encoding="utf-8"
    )
    return config_dir


def crawl_newsplease(python: Path, site: str, timeout: float, via_launcher: bool) -> Run:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        config_dir = write_newsplease_config(folder, site)
        if via_launcher:
            label = "news-please launcher"
            command = [str(python), "-m", "newsplease", "-c", str(config_dir), "-no-confirm"]
        else:
            label = "news-please crawl process"
            command = [str(python), "-m", "newsplease.single_crawler",
                       str(config_dir / "config.cfg"), str(config_dir / "sitelist.hjson"),
                       "0", "False", "False"]  # fmt: skip
        seconds, cpu, stderr = _run_bounded(command, folder, timeout)
        stored = sum(1 for _ in (folder / "work" / "data").rglob("*.json"))
    if not stored:
        raise BaselineError(f"news-please stored nothing; its stderr ends:\n{stderr}")
    return Run(label, stored, seconds, cpu)


def _run_bounded(command: list[str], cwd: Path, timeout: float) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds and the tail of stderr of ``command``. The CPU is what
    ``wait4`` reports: the process and every process it reaped (news-please reaps its
    crawl processes). Its whole process group is killed at ``timeout``."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            command, cwd=cwd, env={**os.environ, **OFFLINE}, stdout=subprocess.DEVNULL,
            stderr=stderr, start_new_session=True,
        )  # fmt: skip
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        while not pid:
            if time.perf_counter() - started > timeout:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise BaselineError(f"news-please did not finish within {timeout:.0f}s")
            time.sleep(0.02)
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(max(0, stderr.seek(0, os.SEEK_END) - 2000))
        tail = stderr.read().decode(errors="replace")
    if process.returncode:
        raise BaselineError(
            f"news-please exited with {process.returncode}; its stderr ends:\n{tail}"
        )
    return seconds, usage.ru_utime + usage.ru_stime, tail


def _fastest(runs: list[Run]) -> Run:
    return max(runs, key=lambda run: run.rate)


def print_table(pages: int, baseline: Run | None, runs: list[Run]) -> None:
    print(f"{'crawler':<34} {'stored':>9} {'seconds':>8} {'articles/s':>11} "
          f"{'CPU-s/article':>14} {'vs news-please':>15}")  # fmt: skip
    for run in ([baseline] if baseline else []) + runs:
        ratio = f"{run.rate / baseline.rate:.1f}x" if baseline else "-"
        print(
            f"{run.label:<34} {f'{run.stored}/{pages}':>9} {run.seconds:>8.1f} "
            f"{run.rate:>11.1f} {run.cpu_per_article:>14.3f} {ratio:>15}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds news-please may take (default 600)"
    )
    parser.add_argument(
        "--via-launcher", action="store_true",
        help="run news-please's launcher (news-please -c DIR) instead of its crawl process",
    )  # fmt: skip
    parser.add_argument("--pages", type=int, help="only the first PAGES corpus pages")
    parser.add_argument(
        "--rounds", type=int, default=1, help="crawl each this many times, keep the fastest"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    python = newsplease_python()
    version = installed_version(python)
    if version is None:
        print(
            f"news-please is not installed at {python}: nothing to compare against. Create it"
            f" with `make bench-newsplease`, or:\n  python3 -m venv {VENV} && {VENV}/bin/pip"
            f" install {NEWSPLEASE_PINS}\n(or point $NEWSPLEASE_PYTHON at an interpreter that"
            " has it)"
        )
        return 0
    pages = load_corpus_pages()[: args.pages]
    if not pages:
        print("no corpora at ../shared/corpora: nothing to measure")
        return 0
    workers = default_workers()
    baselines: list[Run] = []
    alone: list[Run] = []
    pooled: list[Run] = []
    failed = False
    room = Newsroom(hosts=("127.0.0.1",)).start()
    try:
        site, feed = serve_site(room, pages)
        # Rounds interleave the crawlers, so load from elsewhere falls on all of them.
        for _round in range(args.rounds):
            if not failed:
                try:
                    baselines.append(
                        crawl_newsplease(python, site, args.timeout, args.via_launcher)
                    )
                except BaselineError as failure:
                    print(f"news-please {version} failed, so there is no ratio: {failure}")
                    failed = True
            alone.append(crawl_mediawatch(feed, 0, "mediawatch workers = 0"))
            pooled.append(crawl_mediawatch(feed, None, f"mediawatch workers = {workers} (default)"))
    finally:
        room.stop()
    baseline = _fastest(baselines) if baselines else None
    runs = [_fastest(alone), _fastest(pooled)]
    print(
        f"{len(pages)} corpus pages behind one RSS feed on one local host; {PER_HOST} requests"
        f" per host, no delay; news-please {version} with {python}; the fastest of"
        f" {args.rounds} round(s)"
    )
    print_table(len(pages), baseline, runs)
    if baseline:
        best = max(run.rate for run in runs)
        print(f"mediawatch / news-please: {best / baseline.rate:.1f}x articles/s (target >= "
              f"{TARGET:.0f}x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
