"""The demo newsroom: one local HTTP server with an RSS feed and article pages per outlet.

Each feed item names its outlet in ``<source>``, so articles are credited to six
publishers although they share one address. ``publish(articles)`` adds to the feeds
while the server runs (a feed's ETag changes with its content).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from datetime import UTC
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mediawatch.demo.content import OUTLETS, DemoArticle


class DemoNewsroom:
    def __init__(self) -> None:
        self._articles: dict[str, DemoArticle] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def feed_url(self, outlet: int) -> str:
        return f"{self.base}/{outlet}/feed.xml"

    def publish(self, articles: Iterable[DemoArticle]) -> None:
        with self._lock:
            for article in articles:
                self._articles[f"/{article.outlet}/{article.slug}.html"] = article

    def start(self) -> DemoNewsroom:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def page(self, path: str) -> bytes | None:
        with self._lock:
            article = self._articles.get(path)
        return None if article is None else render_page(article).encode()

    def feed(self, outlet: int) -> bytes:
        with self._lock:
            items = [(p, a) for p, a in self._articles.items() if a.outlet == outlet]
        items.sort(key=lambda item: item[1].published, reverse=True)
        return render_feed(self.base, outlet, items).encode()


def render_feed(base: str, outlet: int, items: list[tuple[str, DemoArticle]]) -> str:
    name = escape(OUTLETS[outlet])
    entries = "".join(
        f"<item><title>{escape(a.title)}</title><link>{base}{path}</link>"
        f"<guid>{base}{path}</guid>"
        f"<pubDate>{format_datetime(a.published.replace(tzinfo=UTC), usegmt=True)}</pubDate>"
        f'<source url="{base}/{outlet}/feed.xml">{name}</source>'
        f"<description>{escape(a.paragraphs[0][:200])}</description></item>"
        for path, a in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{name}</title><link>{base}/{outlet}/</link>"
        f"<description>{name}: news from Iraq and the region</description>{entries}"
        "</channel></rss>"
    )


def render_page(article: DemoArticle) -> str:
    outlet = escape(OUTLETS[article.outlet])
    direction = "rtl" if article.language == "ar" else "ltr"
    body = "".join(f"<p>{escape(p)}</p>" for p in article.paragraphs)
    published = article.published.replace(tzinfo=UTC).isoformat()
    return (
        f'<!doctype html><html lang="{article.language}" dir="{direction}"><head>'
        f'<meta charset="utf-8"><title>{escape(article.title)} | {outlet}</title>'
        f'<meta property="article:published_time" content="{published}">'
        f'<meta name="author" content="{outlet} staff"></head><body>'
        f"<header><nav><a href='/'>Home</a> <a href='/iraq'>Iraq</a> <a href='/world'>World</a>"
        f"</nav></header><main><article><h1>{escape(article.title)}</h1>"
        f'<time datetime="{published}">{published}</time>{body}</article></main>'
        f"<footer>© {outlet}. All rights reserved. <a href='/privacy'>Privacy</a></footer>"
        "</body></html>"
    )


def _handler(room: DemoNewsroom) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            parts = path.strip("/").split("/")
            if len(parts) == 2 and parts[1] == "feed.xml" and parts[0].isdigit():
                body: bytes | None = room.feed(int(parts[0]))
                content_type = "application/rss+xml; charset=utf-8"
            else:
                body = room.page(path)
                content_type = "text/html; charset=utf-8"
            if body is None:
                self.send_error(404)
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler
