"""Article pages extracted off the reactor, on every core.

Extraction (trafilatura, language detection) is CPU-bound Python: done on the reactor's
thread it serialises the crawl on one core while the network waits. ``Extraction`` hands
each page to a pool of worker processes (``[crawl] workers``, default one per core) and
the spider awaits the answer, so downloads, parsing and storing go on meanwhile. The store
stays one writer: only pure functions run in the workers, ``extract_article`` and the
article's dedupe hashes and watch-list matching (``spiders.crawler.analysis``: the store
takes them as they are only for the very text they were computed over).

What can go wrong in a worker costs one page, never the crawl:

* a page that takes longer than ``[crawl] extract_timeout`` (extraction and analysis) is
  stopped by an alarm in its worker and gives ``Refused`` (the caller stores the feed's
  title and summary, as when extraction finds no text);
* a worker that dies (a crash in a C library, the OOM killer) breaks the pool: the page
  is refused, and the next page starts a new pool.

Memory stays flat: Scrapy's scraper slot bounds the responses being processed, so at most
that many pages wait here, and each worker holds one. ``workers = 0`` extracts in the
crawl's own process (the one-process baseline of ``bench crawl``).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the extractors load in the workers, not in the crawl's process
    from spiders.crawler.items import ArticleAnalysis
    from spiders.parsing.extract import Extracted
    from watchlist.mentions import Matcher

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """What ``extract_article`` needs of a response (picklable, for the workers)."""

    body: bytes
    url: str
    fallback_language: str | None
    content_type: str | None
    date_from_text: bool
    feed_title: str = ""
    """What stands in for a page without a title (the feed entry's, cleaned)."""
    feed_summary: str | None = None
    """The feed entry's summary, which the article keeps over the page's description."""


@dataclass(frozen=True)
class ExtractedArticle:
    """A page's extraction, and the analysis of the article it makes."""

    extracted: Extracted
    analysis: ArticleAnalysis | None
    """None when analysing failed (the store analyses the article itself)."""


@dataclass(frozen=True)
class Refused:
    """Why a page gave no extraction beyond "no main text" (the caller says why)."""

    why: str


class _TooSlow(BaseException):
    """Raised by the alarm inside a worker; a BaseException, so extraction's own
    ``except Exception`` (hostile pages must not stop a crawl) does not swallow it."""


def extract_page(
    page: Page, limit: float, matcher: Matcher | None = None
) -> ExtractedArticle | Refused | None:
    """``extract_article`` of ``page`` and the analysis of the article (matched against
    ``matcher`` when given), stopped after ``limit`` seconds (0: no limit).

    Runs in a worker process (or inline): the alarm is the process's own, and only the
    main thread can take signals (elsewhere the page runs without a limit)."""
    main = threading.current_thread() is threading.main_thread()
    if limit <= 0 or not main or not hasattr(signal, "setitimer"):
        return _extract(page, matcher)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return _extract(page, matcher)
    except _TooSlow:
        return Refused(f"extraction took longer than {limit:g}s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _extract(page: Page, matcher: Matcher | None) -> ExtractedArticle | None:
    from spiders.crawler.analysis import analyse_extracted
    from spiders.parsing.extract import extract_article

    extracted = extract_article(
        page.body,
        page.url,
        fallback_language=page.fallback_language,
        content_type=page.content_type,
        date_from_text=page.date_from_text,
    )
    if extracted is None:
        return None
    analysis = analyse_extracted(extracted, page.feed_title, page.feed_summary, matcher)
    return ExtractedArticle(extracted, analysis)


_worker_matcher: Matcher | None = None
"""The watch-list of this worker process, sent once when it starts (``start_worker``), not
with every page."""


CLOSE_GRACE = 10.0
"""How long ``Extraction.close`` waits for its workers beyond two pages' time limit."""


def _kill_workers(pool: Executor) -> None:
    """Kill a process pool's workers: its manager thread then finds the pool broken and
    ends (``ProcessPoolExecutor`` has no public way to do this before Python 3.14)."""
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        process.kill()


PARENT_CHECK_SECONDS = 2.0
"""How often a worker asks whether the crawl that started it is still there."""


def start_worker(matcher: Matcher | None, crawl_pid: int | None = None) -> None:
    """A worker's start: keep the watch-list, outlive no crawl, and warm up."""
    global _worker_matcher
    _worker_matcher = matcher
    if crawl_pid is not None:
        threading.Thread(target=_exit_with, args=(crawl_pid,), daemon=True).start()
    warm_up()


def _exit_with(crawl_pid: int) -> None:
    """End this worker once the crawl that started it is gone.

    A pool's workers wait on their call queue, whose write end they hold themselves, so a
    crawl killed outright (``kill -9``, the OOM killer) left them waiting for ever, and
    with them the forkserver (which lives while any of its children do): a service whose
    crawls were killed gathered hundreds of megabytes of idle workers per kill."""
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        try:
            os.kill(crawl_pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:  # the pid was taken by another user's process: gone too
            os._exit(0)


def extract_in_worker(page: Page, limit: float) -> ExtractedArticle | Refused | None:
    """``extract_page`` with the worker's watch-list."""
    return extract_page(page, limit, _worker_matcher)


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise _TooSlow


_SAMPLE = (
    "<html lang='en'><body><article><h1>Warm-up</h1>"
    + "<p>A paragraph of plain text for the extractor and the language model.</p>" * 5
    + "</article></body></html>"
)


def warm_up() -> None:
    """A worker's first extraction loads models and caches (language detection,
    trafilatura's); done on start, so the time limit measures pages, not the warm-up."""
    from spiders.parsing.extract import extract_article

    extract_article(_SAMPLE, "https://warm-up.invalid/article")


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Extraction:
    """Extracts pages in ``workers`` processes (0: inline), each page within ``limit`` s,
    and matches the articles against ``matcher`` (the store's watch-list; None: the store
    matches them)."""

    def __init__(self, workers: int, limit: float, matcher: Matcher | None = None) -> None:
        self.workers = workers
        self.limit = limit
        self.matcher = matcher
        self._pool: Executor | None = None

    async def extract(self, page: Page) -> ExtractedArticle | Refused | None:
        """The page's extraction; never raises for a bad page or a dead worker."""
        if self.workers == 0:
            return extract_page(page, self.limit, self.matcher)
        pool = self._pool or self._start()
        try:
            future = pool.submit(extract_in_worker, page, self.limit)
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            logger.warning("an extraction worker died on %s; starting new workers", page.url)
            self._restart(pool)
            return Refused("the extraction worker died")

    def close(self) -> None:
        """Stop the workers; the pool is gone when this returns.

        Pages not yet handed to a worker are dropped; a worker may still finish the page
        it holds and one it has queued (each within ``limit``). Not closed without
        waiting: the pool's manager thread then still wound down when the crawl's process
        exited, and Python 3.11's exit hook raced it for the pool's wake-up pipe (a
        traceback at exit, now and then). The wait is bounded: workers still busy after
        it (a page stuck past its alarm, in C code) are killed, so exit never waits on
        them."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        stopping = threading.Thread(
            target=pool.shutdown,
            kwargs={"wait": True, "cancel_futures": True},
            name="extraction-close",
            daemon=True,
        )
        stopping.start()
        grace = 2 * max(self.limit, 0.0) + CLOSE_GRACE
        stopping.join(grace)
        if stopping.is_alive():
            logger.warning("extraction workers still busy after %gs; stopping them", grace)
            _kill_workers(pool)
            stopping.join(CLOSE_GRACE)

    def _start(self) -> Executor:
        # forkserver: workers start from a clean server process, not from a fork of the
        # reactor's (threads, sockets, the database pool); the server loads and warms the
        # extractors once (``extraction_preload``), and every worker forks warm.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(
            ["spiders.crawler.analysis", "spiders.crawler.extraction_preload"]
        )
        self._pool = ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=start_worker,
            initargs=(self.matcher, os.getpid()),
        )
        return self._pool

    def _restart(self, broken: Executor) -> None:
        if self._pool is broken:
            broken.shutdown(wait=False, cancel_futures=True)
            self._pool = None
