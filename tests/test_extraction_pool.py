"""Article pages extracted in worker processes: the same answers as in-process, and a page
that is too slow or a worker that dies costs that page only (``spiders.crawler.extraction``)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from spiders.crawler.extraction import Extraction, Page, Refused, extract_page
from spiders.parsing.extract import Extracted

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


def run(extraction: Extraction, *pages: Page) -> list[Extracted | Refused | None]:
    async def all_of() -> list[Extracted | Refused | None]:
        return list(await asyncio.gather(*(extraction.extract(p) for p in pages)))

    try:
        return run_loop(all_of())
    finally:
        extraction.close()


def test_workers_extract_what_the_crawl_process_would() -> None:
    pages = [article(n) for n in (3, 8, 20)]
    inline = [extract_page(p, 0) for p in pages]
    pooled = run(Extraction(workers=2, limit=30), *pages)
    assert all(isinstance(result, Extracted) for result in inline)
    assert pooled == inline
    first = inline[0]
    assert isinstance(first, Extracted)
    assert first.title == "Militias press for the Interior Ministry"
    assert "Popular Mobilization Forces" in first.text


def test_a_page_over_the_time_limit_is_refused_and_the_others_are_not() -> None:
    results = run(Extraction(workers=2, limit=0.3), slow_page(), article(), article(5))
    slow, *others = results
    assert isinstance(slow, Refused)
    assert "longer than 0.3s" in slow.why
    assert all(isinstance(result, Extracted) for result in others)


def test_the_time_limit_holds_inline_too() -> None:
    result = extract_page(slow_page(), 0.3)
    assert isinstance(result, Refused)
    assert isinstance(extract_page(article(), 0.3), Extracted)


def test_a_dead_worker_costs_its_page_and_the_next_page_is_extracted() -> None:
    extraction = Extraction(workers=1, limit=0)

    async def scenario() -> tuple[Extracted | Refused | None, Extracted | Refused | None]:
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
    assert isinstance(next_page, Extracted)
