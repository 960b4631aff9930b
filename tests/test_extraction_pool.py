"""Article pages extracted in worker processes: the same answers as in-process, and a page
that is too slow or a worker that dies costs that page only (``spiders.crawler.extraction``).
The dedupe hashes and mentions a worker computes are stored exactly as the store's own
(``spiders.crawler.analysis``)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from support.store_items import StandInWatchlist

from spiders.crawler.extraction import ExtractedArticle, Extraction, Page, Refused, extract_page
from spiders.crawler.items import ArticleItem
from spiders.crawler.store import ArticleStore
from spiders.crawler.tidy import normalise_item
from spiders.parsing.language import DETECTOR_LANGUAGES, _identifier
from storage.engine import make_engine, session_factory
from storage.migrate import upgrade
from storage.models import Article, Mention
from watchlist.mentions import mention_rows

Result = ExtractedArticle | Refused | None

ARTICLE = """<html lang="en"><head><title>Militias press for the Interior Ministry</title>
<meta property="article:published_time" content="2026-11-20T08:30:00Z"></head>
<body><nav>Home | World</nav><article><h1>Militias press for the Interior Ministry</h1>
{paragraphs}</article><footer>(c) The Desk</footer></body></html>"""
PARAGRAPH = (
    "<p>Leaders of the Popular Mobilization Forces met in Baghdad on Tuesday to press their"
    " claim on the Interior Ministry, officials said, as Kataib Hezbollah warned US troops"
    " again. Paragraph {n} of the report goes on in plain words.</p>"
)


def page(html: str, url: str = "https://news.example/2026/11/20/militias") -> Page:
    return Page(html.encode(), url, None, "text/html; charset=utf-8", False)


def article(paragraphs: int = 8) -> Page:
    body = "".join(PARAGRAPH.format(n=n) for n in range(paragraphs))
    return page(ARTICLE.format(paragraphs=body))


def slow_page() -> Page:
    """A page of 150,000 table cells: under the element cap, seconds to extract."""
    cells = "<tr>" + "<td>cell text here</td>" * 50 + "</tr>"
    return page(ARTICLE.format(paragraphs="<table>" + cells * 3000 + "</table>"))


T = TypeVar("T")


def run_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` in a thread of its own: the test process may hold a running loop
    already (the browser tests' Playwright), and the spider awaits in a loop of its own."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def run(extraction: Extraction, *pages: Page) -> list[Result]:
    async def all_of() -> list[Result]:
        return list(await asyncio.gather(*(extraction.extract(p) for p in pages)))

    try:
        return run_loop(all_of())
    finally:
        extraction.close()


@pytest.mark.slow  # worker processes
def test_workers_extract_what_the_crawl_process_would() -> None:
    pages = [article(n) for n in (3, 8, 20)]
    inline = [extract_page(p, 0) for p in pages]
    pooled = run(Extraction(workers=2, limit=30), *pages)
    assert all(isinstance(result, ExtractedArticle) for result in inline)
    assert pooled == inline
    first = inline[0]
    assert isinstance(first, ExtractedArticle)
    assert first.extracted.title == "Militias press for the Interior Ministry"
    assert "Popular Mobilization Forces" in first.extracted.text


@pytest.mark.slow  # worker processes
def test_a_page_over_the_time_limit_is_refused_and_the_others_are_not() -> None:
    results = run(Extraction(workers=2, limit=0.3), slow_page(), article(), article(5))
    slow, *others = results
    assert isinstance(slow, Refused)
    assert "longer than 0.3s" in slow.why
    assert all(isinstance(result, ExtractedArticle) for result in others)


def test_the_time_limit_holds_inline_too() -> None:
    result = extract_page(slow_page(), 0.3)
    assert isinstance(result, Refused)
    assert isinstance(extract_page(article(), 0.3), ExtractedArticle)


@pytest.mark.slow  # worker processes
def test_a_dead_worker_costs_its_page_and_the_next_page_is_extracted() -> None:
    extraction = Extraction(workers=1, limit=0)

    async def scenario() -> tuple[Result, Result]:
        doomed = asyncio.ensure_future(extraction.extract(slow_page()))
        await asyncio.sleep(0.5)  # the worker is busy with the slow page
        pool = extraction._pool
        assert pool is not None
        for pid in list(pool._processes):  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)  # as the OOM killer would
        lost = await doomed
        return lost, await extraction.extract(article())

    try:
        lost, next_page = run_loop(scenario())
    finally:
        extraction.close()
    assert isinstance(lost, Refused)
    assert "died" in lost.why
    assert isinstance(next_page, ExtractedArticle)


@pytest.mark.slow  # worker processes
def test_closing_leaves_nothing_for_interpreter_exit_to_join() -> None:
    """A crawl stops with ``close`` and its process exits right after. Closed without
    waiting, the pool's manager thread was still winding down at exit, and Python 3.11's
    exit hook raced it for the pool's wake-up pipe: now and then a stopping worker printed
    a traceback (``OSError`` from ``_python_exit``) and exited as if it had crashed."""
    before = {thread.ident for thread in threading.enumerate()}
    extraction = Extraction(workers=2, limit=30)
    results = run(extraction, article(), article(5))  # ``run`` closes the extraction
    assert all(isinstance(result, ExtractedArticle) for result in results)
    left = [thread.name for thread in threading.enumerate() if thread.ident not in before]
    assert left == [], left


@pytest.mark.slow  # worker processes
def test_closing_stops_workers_still_busy_after_the_grace(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker stuck in a page (here: no time limit, a page of seconds) is not waited
    for without end: after the grace it is killed, and nothing is left for exit to join."""
    from spiders.crawler import extraction as module

    monkeypatch.setattr(module, "CLOSE_GRACE", 0.3)
    before = {thread.ident for thread in threading.enumerate()}
    extraction = Extraction(workers=1, limit=0)

    async def start_a_slow_page() -> None:
        pending = asyncio.ensure_future(extraction.extract(slow_page()))
        await asyncio.sleep(0.5)  # the worker is busy with it
        pending.cancel()

    run_loop(start_a_slow_page())
    with caplog.at_level("WARNING", logger=module.__name__):
        extraction.close()
    assert "still busy after 0.3s; stopping them" in caplog.text
    left = [thread.name for thread in threading.enumerate() if thread.ident not in before]
    assert left == [], left


@pytest.mark.slow  # worker processes
def test_workers_match_with_the_watch_list_they_were_given() -> None:
    pooled = run(Extraction(workers=1, limit=30, matcher=StandInWatchlist()), article())
    inline = extract_page(article(), 0, StandInWatchlist())
    assert pooled == [inline]
    assert isinstance(inline, ExtractedArticle) and inline.analysis is not None
    page_fields = (inline.extracted.title, inline.extracted.text, inline.extracted.description)
    assert inline.analysis.mentions == mention_rows(StandInWatchlist(), *page_fields)
    assert set(inline.analysis.mentions) == {
        ("Interior Ministry", "Interior Ministry"),
        ("PMF", "Popular Mobilization Forces"),
    }
    assert inline.analysis.simhash is not None and inline.analysis.title_hash is not None


def stored(tmp_path: Path, name: str, items: list[ArticleItem], now: datetime) -> list[tuple]:
    """Each article's row and mention rows, as a store that was handed ``items`` wrote them."""
    engine = make_engine(f"sqlite:///{tmp_path / name}.db")
    upgrade(engine)
    store = ArticleStore(session_factory(engine), StandInWatchlist(), lambda: now)
    for item in items:
        store.add(item)
    store.close()
    with session_factory(engine)() as session:
        rows = [
            (
                a.url,
                a.title,
                a.text,
                a.summary,
                a.title_hash,
                a.simhash,
                a.story_id,
                a.duplicate_of_id,
            )
            for a in session.scalars(select(Article).order_by(Article.id))
        ]
        mentions = [(m.article_id, m.cluster, m.term, m.hits, m.seen_at, m.story_id)
                    for m in session.scalars(select(Mention).order_by(Mention.id))]  # fmt: skip
    engine.dispose()
    return [*rows, *mentions]


def test_an_article_analysed_in_a_worker_is_stored_as_the_store_would_store_it(
    tmp_path: Path,
) -> None:
    """Hashes and mentions from the worker, or from the store itself: the same rows. An
    analysis that does not describe the item (its text changed since) is not used."""
    now = datetime(2026, 11, 20, 12)
    items = []
    for number, paragraphs in enumerate((3, 8, 8, 20)):  # the two 8s: copies of one story
        done = extract_page(
            replace(article(paragraphs), feed_title="Feed title", feed_summary="\x00 Summary  "),
            0,
            StandInWatchlist(),
        )
        assert isinstance(done, ExtractedArticle) and done.analysis is not None
        items.append(ArticleItem(
            url=f"https://news.example/{number}", source_name="Desk", publisher="news.example",
            fetched_at=now, title=" " + done.extracted.title, text=done.extracted.text + "\x01",
            summary="\x00 Summary  ", analysis=done.analysis,
        ))  # fmt: skip
    # The store takes the worker's analysis for these (tidied, they are what it describes).
    assert all(i.analysis and i.analysis.describes(normalise_item(i)) for i in items)
    by_worker = stored(tmp_path, "worker", items, now)
    by_store = stored(tmp_path, "store", [replace(i, analysis=None) for i in items], now)
    assert by_worker == by_store
    assert any(row[1:3] == ("Interior Ministry", "Interior Ministry") for row in by_worker)
    assert [row[-1] for row in by_worker[:4]] == [None, 1, 1, 1]  # copies of one story
    stale = [replace(i, text="Another text entirely, about Hashd.") for i in items]
    assert stored(tmp_path, "stale", stale, now) == stored(
        tmp_path, "stale_store", [replace(i, analysis=None) for i in stale], now
    )


def test_language_tags_are_checked_without_loading_the_model() -> None:
    """The crawl's process checks each article's language tag; the labels are written out
    so that it need not load the detector's model, and must be the model's."""
    assert frozenset(str(label) for label in _identifier().nb_classes) == DETECTOR_LANGUAGES


CRAWL_THAT_WAITS = """
import asyncio, time
from spiders.crawler.extraction import Extraction, Page

if __name__ == "__main__":
    pool = Extraction(2, 20.0)
    words = b"Words of a plain article. " * 40
    html = b"<html><body><article><p>" + words + b"</p></article></body></html>"
    asyncio.run(pool.extract(Page(html, "https://news.example/a", None, None, False)))
    print("ready", flush=True)
    time.sleep(600)
"""


def _descendants(root: int) -> set[int]:
    """Every live process below ``root`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow  # worker processes
def test_workers_of_a_crawl_killed_outright_do_not_outlive_it(tmp_path: Path) -> None:
    """``kill -9`` of a crawl (or the OOM killer) used to leave its workers and their
    forkserver waiting for ever: hundreds of megabytes per killed crawl, for months."""
    import subprocess
    import sys

    from support.processes import wait_for

    script = tmp_path / "crawl_that_waits.py"
    script.write_text(CRAWL_THAT_WAITS, encoding="utf-8")
    root = Path(__file__).resolve().parents[1]
    with subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    ) as crawl:
        try:
            assert crawl.stdout is not None
            assert crawl.stdout.readline().strip() == b"ready"
            helpers = _descendants(crawl.pid)
            assert len(helpers) >= 2  # the forkserver and at least one worker
            crawl.send_signal(signal.SIGKILL)
            crawl.wait()
            assert wait_for(lambda: not any(_alive(pid) for pid in helpers), timeout=30)
        finally:
            if crawl.poll() is None:
                crawl.kill()
