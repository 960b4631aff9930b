"""Sources with a past, on the local newsroom, for backfill: a Telegram channel whose web
preview pages back with ``?before=ID`` (rendered by ``telegram_pages``), logging each page
asked and when; and a news site's sitemap index by month (``sitemap-2026-11.xml``, as
news sites publish them), each child a urlset of its month's articles with their
``lastmod`` (or ``news:publication_date``), the articles served as pages dated in their
metadata.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from urllib.parse import parse_qs

from support.newsroom import Article, Newsroom, Reply, Request
from support.telegram_pages import Channel, Post, render_channel

WORDS = (
    "talks", "border", "ministry", "oil", "budget", "salaries", "checkpoint", "convoy",
    "drone", "village", "road", "bridge", "election", "court", "parliament", "governor",
    "refugees", "camp", "water", "dam", "wheat", "prices", "protest", "strike", "militia",
    "patrol", "airport", "tribe", "council", "report", "witness", "hospital", "school",
)  # fmt: skip


def words(seed: str, count: int = 40) -> str:
    """``count`` words drawn from ``seed``: texts of their own, so none is a near-duplicate."""
    draw = random.Random(seed)
    return " ".join(draw.choice(WORDS) for _ in range(count))


@dataclass
class PageLog:
    """The channel pages asked: each one's ``before`` (None: the newest page) and arrival."""

    befores: list[int | None] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, before: int | None) -> None:
        with self._lock:
            self.befores.append(before)
            self.times.append(time.monotonic())

    def count(self) -> int:
        with self._lock:
            return len(self.befores)


def history_post(post_id: int, when: datetime | None, topic: str = "Peshmerga") -> Post:
    text = f"{topic} bulletin {post_id}\n{topic} {words(f'post {post_id}')}."
    return Post(post_id, text, when)


def serve_history(room: Newsroom, channel: Channel, host: int = 0, delay: float = 0.0) -> PageLog:
    """Serve ``channel`` at ``/s/NAME`` (``?before=`` pages), each page ``delay`` s late."""
    log = PageLog()

    def answer(request: Request) -> Reply:
        values = parse_qs(request.query).get("before", [])
        before = int(values[0]) if values and values[0].isdigit() else None
        log.add(before)
        body = render_channel(channel, room.base(host), before).encode("utf-8")
        return Reply(body=body, headers={"Content-Type": "text/html; charset=utf-8"}, delay=delay)

    room.route(f"/s/{channel.name}", answer, host)
    return log


@dataclass
class DatedSitemaps:
    """A site's sitemap index (``/sitemap.xml``) with one child per month."""

    room: Newsroom
    host: int = 0
    months: dict[str, list[Article]] = field(default_factory=dict)
    news: bool = False
    """Date entries with ``news:publication_date`` instead of ``lastmod``."""

    @property
    def url(self) -> str:
        return self.room.url("/sitemap.xml", self.host)

    def add(
        self, path: str, title: str, published: datetime, page_date: datetime | None = None
    ) -> str:
        """An article listed as ``published`` in its month's child sitemap, its page dated
        ``page_date`` (default: the same)."""
        paragraphs = [f"{title}. Peshmerga {words(path + str(n))}." for n in range(3)]
        page = Article(self.host, path, title, paragraphs, published=page_date or published)
        listed = Article(self.host, path, title, paragraphs, published=published)
        self.months.setdefault(f"{published:%Y-%m}", []).append(listed)
        return self.room.add_article(page)

    def serve(self) -> DatedSitemaps:
        self.room.route("/sitemap.xml", lambda _r: self._index(), self.host)
        for month in self.months:
            self.room.route(self.child_path(month), self._child_route(month), self.host)
        return self

    def _child_route(self, month: str) -> Callable[[Request], Reply]:
        return lambda _r: self._child(month)

    def child_path(self, month: str) -> str:
        return f"/sitemap-{month}.xml"

    def _index(self) -> Reply:
        items = "".join(
            f"<sitemap><loc>{self.room.url(self.child_path(month), self.host)}</loc>"
            f"<lastmod>{max(a.published for a in articles if a.published):%Y-%m-%dT%H:%M:%SZ}"
            "</lastmod></sitemap>"
            for month, articles in sorted(self.months.items())
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{items}</sitemapindex>"
        )
        return Reply(body=body.encode(), headers={"Content-Type": "application/xml"})

    def _child(self, month: str) -> Reply:
        entries = []
        for article in self.months[month]:
            loc = escape(self.room.url(article.path, self.host))
            stamp = f"{article.published:%Y-%m-%dT%H:%M:%SZ}"
            if self.news:
                entries.append(
                    f"<url><loc>{loc}</loc><news:news><news:publication>"
                    "<news:name>Newsroom</news:name><news:language>en</news:language>"
                    f"</news:publication><news:publication_date>{stamp}</news:publication_date>"
                    f"<news:title>{escape(article.title)}</news:title></news:news></url>"
                )
            else:
                entries.append(f"<url><loc>{loc}</loc><lastmod>{stamp}</lastmod></url>")
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"{''.join(entries)}</urlset>"
        )
        return Reply(body=body.encode(), headers={"Content-Type": "application/xml"})
