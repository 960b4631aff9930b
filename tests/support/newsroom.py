"""A local "newsroom": real HTTP servers on loopback addresses serving feeds, sitemaps and
article pages, plus every hostile thing a crawler meets in the wild.

Three publishers listen on their own loopback address (127.0.0.1, 127.0.0.2, 127.0.0.3),
each on a random port, so syndicated copies really come from different hosts. Content
is configurable: ``add_article``, ``add_feed`` and ``route``; feeds are rendered at
request time from the articles they list, so adding an article changes the feed (and
its ETag). ``hits(path)`` counts requests per host and path.

The pytest fixture ``newsroom`` yields a started ``Newsroom`` with the standard content
of ``newsroom_content`` (see ``STANDARD_SOURCES`` there for the configured feeds).
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")


@dataclass
class Request:
    host: int
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (a slow server)."""
    conditional: bool = False
    """Answer 304 when the request's validators match (ETag from the body's hash)."""
    cut_at: int | None = None
    """Close the connection after this many bytes of the body (its full length declared)."""


Route = Callable[[Request], Reply]


@dataclass
class Article:
    host: int
    path: str
    title: str
    paragraphs: Sequence[str]
    language: str = "en"
    published: datetime | None = None
    author: str | None = None
    summary: str = ""
    canonical: str | None = None
    """A path (on the same host) or a full URL for ``<link rel=canonical>``."""


@dataclass
class Feed:
    host: int
    path: str
    kind: str
    """rss, atom, rdf, json, news-sitemap, google-news."""
    title: str
    articles: list[Article]
    link_query: str = ""
    """Appended to each entry link (e.g. tracking parameters)."""
    encoding: str = "utf-8"
    bom: bool = False
    extra_items: str = ""
    """Raw XML appended inside the channel (hand-made malformed or odd entries)."""
    ttl: int | None = None


class Newsroom:
    def __init__(self, hosts: Sequence[str] = HOSTS) -> None:
        self.hosts = tuple(hosts)
        self.routes: dict[tuple[int, str], Route] = {}
        self.articles: dict[tuple[int, str], Article] = {}
        self.requests: Counter[tuple[int, str]] = Counter()
        self.user_agents: set[str] = set()
        self._servers: list[ThreadingHTTPServer] = []
        self._lock = threading.Lock()

    # -- addresses -----------------------------------------------------------------------

    def base(self, host: int = 0) -> str:
        address, port = self._servers[host].server_address[:2]
        return f"http://{address}:{port}"

    def url(self, path: str, host: int = 0) -> str:
        return self.base(host) + path

    def hits(self, path: str, host: int = 0) -> int:
        with self._lock:
            return self.requests[(host, path)]

    def article_hits(self) -> int:
        """Requests for article pages (anything registered with ``add_article``)."""
        with self._lock:
            return sum(self.requests[key] for key in self.articles)

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- content -------------------------------------------------------------------------

    def route(self, path: str, route: Route | Reply, host: int = 0) -> None:
        self.routes[(host, path)] = route if callable(route) else (lambda _r, _x=route: _x)

    def add_article(self, article: Article) -> str:
        self.articles[(article.host, article.path)] = article
        self.route(article.path, lambda _r, a=article: self._article_reply(a), article.host)
        return self.url(article.path, article.host)

    def add_feed(self, feed: Feed) -> str:
        from support.newsroom_render import render_feed

        self.route(
            feed.path,
            lambda _r, f=feed: Reply(
                body=render_feed(self, f),
                headers={"Content-Type": _feed_type(feed.kind, feed.encoding)},
                conditional=True,
            ),
            feed.host,
        )
        return self.url(feed.path, feed.host)

    def _article_reply(self, article: Article) -> Reply:
        from support.newsroom_render import render_article

        return Reply(
            body=render_article(self, article).encode("utf-8"),
            headers={"Content-Type": "text/html; charset=utf-8"},
            conditional=True,
        )

    # -- serving -------------------------------------------------------------------------

    def start(self) -> Newsroom:
        for index, address in enumerate(self.hosts):
            server = _QuietServer((address, 0), _handler(self, index))
            server.daemon_threads = True
            self._servers.append(server)
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def answer(self, request: Request) -> Reply:
        with self._lock:
            self.requests[(request.host, request.path)] += 1
            self.user_agents.add(request.headers.get("user-agent", ""))
        route = self.routes.get((request.host, request.path))
        if route is None:
            return Reply(
                404, b"<html><body><h1>Not found</h1></body></html>", {"Content-Type": "text/html"}
            )
        reply = route(request)
        if reply.conditional and reply.status == 200:
            etag = '"' + hashlib.sha256(reply.body).hexdigest()[:16] + '"'
            modified = reply.headers.get("Last-Modified") or _LAST_MODIFIED
            reply.headers = {**reply.headers, "ETag": etag, "Last-Modified": modified}
            if request.headers.get("if-none-match") == etag or (
                "if-none-match" not in request.headers
                and request.headers.get("if-modified-since") == modified
            ):
                return Reply(304, b"", {"ETag": etag, "Last-Modified": modified})
        return reply


_LAST_MODIFIED = format_datetime(datetime(2026, 11, 20, 9, 0, tzinfo=UTC), usegmt=True)


def _feed_type(kind: str, encoding: str) -> str:
    if kind == "json":
        return "application/feed+json"
    if kind in ("news-sitemap", "sitemap-index"):
        return "application/xml"
    media = "application/atom+xml" if kind == "atom" else "application/rss+xml"
    # Odd encodings are declared in the XML prolog only, as many real feeds do.
    return media if encoding != "utf-8" else f"{media}; charset=utf-8"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up on slow or huge answers is the point of those routes


def _handler(newsroom: Newsroom, host: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "Newsroom/1.0"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            request = Request(
                host, parts.path, parts.query, {k.lower(): v for k, v in self.headers.items()}
            )
            reply = newsroom.answer(request)
            if reply.delay:
                time.sleep(reply.delay)
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if reply.status != 304:
                    self.wfile.write(reply.body[: reply.cut_at])
                if reply.cut_at is not None:  # a careless server hangs up mid-answer
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
            except (BrokenPipeError, ConnectionResetError, OSError):
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


# -- hostile replies ---------------------------------------------------------------------


def gzip_bomb(decompressed_bytes: int = 64 * 1024 * 1024) -> bytes:
    """A small gzip body that inflates to ``decompressed_bytes`` of zeros."""
    chunk = b"\0" * (1024 * 1024)
    out = gzip.compress(chunk * (decompressed_bytes // len(chunk)), compresslevel=9)
    return out


_BOMB: bytes | None = None


def bomb_reply(content_type: str = "text/html") -> Reply:
    global _BOMB
    if _BOMB is None:
        _BOMB = gzip_bomb()
    return Reply(200, _BOMB, {"Content-Type": content_type, "Content-Encoding": "gzip"})


def redirect(location: str, status: int = 301) -> Reply:
    return Reply(status, b"", {"Location": location})


def page(html: str, status: int = 200) -> Reply:
    return Reply(status, html.encode("utf-8"), {"Content-Type": "text/html; charset=utf-8"})


def text_reply(body: str, content_type: str = "text/plain") -> Reply:
    return Reply(200, body.encode("utf-8"), {"Content-Type": content_type})


def html_escape(text: str) -> str:
    return escape(text, quote=True)


@pytest.fixture
def newsroom() -> Iterator[Newsroom]:
    """A started newsroom with the standard content (``newsroom_content``)."""
    from support.newsroom_content import build_standard

    room = Newsroom().start()
    build_standard(room)
    yield room
    room.stop()
