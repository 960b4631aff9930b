"""A local server shaped like the GDELT DOC 2.0 API's article list (``/api/v2/doc/doc``).

It answers ``mode=artlist&format=json`` as GDELT does: ``{"articles": [{"url",
"url_mobile", "title", "seendate": "20191120T154500Z", "socialimage", "domain",
"language", "sourcecountry"}]}`` for the articles seen within ``startdatetime`` ..
``enddatetime`` (YYYYMMDDHHMMSS, UTC) that the query's phrases name, at most ``maxrecords``
(<= 250), oldest first with ``sort=dateasc``; ``{}`` when none match; a bad request is a
line of plain text with status 200, as GDELT reports it. ``script`` queues raw replies
(a 429, hostile bodies) served before the normal answer.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

PATH = "/api/v2/doc/doc"


@dataclass(frozen=True)
class Listed:
    url: str
    title: str
    seen: datetime
    language: str = "English"


@dataclass
class Scripted:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class GdeltServer:
    def __init__(self) -> None:
        self.articles: list[Listed] = []
        self.queries: list[dict[str, str]] = []
        self.scripted: list[Scripted] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        address, port = self._server.server_address[:2]
        return f"http://{address!s}:{port}{PATH}"

    def script(self, *replies: Scripted) -> None:
        with self._lock:
            self.scripted.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self.queries.clear()
            self.scripted.clear()

    def answer(self, path: str, query: str) -> Scripted:
        params = {key: values[-1] for key, values in parse_qs(query).items()}
        with self._lock:
            self.queries.append(params)
            if self.scripted:
                return self.scripted.pop(0)
        if path != PATH:
            return Scripted(404, b"Not Found")
        problem = _refusal(params)
        if problem:
            return Scripted(200, problem.encode(), {"Content-Type": "text/html"})
        start, end = _stamp(params["startdatetime"]), _stamp(params["enddatetime"])
        phrases = [p.lower() for p in re.findall(r'"([^"]+)"', params["query"])]
        found = sorted(
            (
                item
                for item in self.articles
                if start <= item.seen <= end and any(p in item.title.lower() for p in phrases)
            ),
            key=lambda item: item.seen,
            reverse=params.get("sort", "datedesc") != "dateasc",
        )[: int(params.get("maxrecords", "75"))]
        if not found:
            return Scripted(200, b"{}", {"Content-Type": "application/json"})
        body = {"articles": [_entry(item) for item in found]}
        return Scripted(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def start(self) -> GdeltServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _refusal(params: dict[str, str]) -> str | None:
    """GDELT's own complaints, for the parameters the backfill sends."""
    if params.get("mode", "").lower() != "artlist" or params.get("format", "").lower() != "json":
        return "Invalid mode or format."
    query = params.get("query", "")
    if not query:
        return "Please specify a query."
    if " OR " in query and not query.startswith("("):
        return "Queries containing OR'd terms must be surrounded by ()."
    if any(len(p) < 3 for p in re.findall(r'"([^"]*)"', query)):
        return "The specified phrase is too short."
    if not 1 <= int(params.get("maxrecords", "75")) <= 250:
        return "maxrecords must be between 1 and 250."
    for key in ("startdatetime", "enddatetime"):
        if not re.fullmatch(r"\d{14}", params.get(key, "")):
            return f"Invalid {key}."
    return None


def _stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%d%H%M%S")


def _entry(item: Listed) -> dict[str, str]:
    host = urlsplit(item.url).hostname or ""
    return {
        "url": item.url,
        "url_mobile": "",
        "title": item.title,
        "seendate": item.seen.strftime("%Y%m%dT%H%M%SZ"),
        "socialimage": "",
        "domain": host,
        "language": item.language,
        "sourcecountry": "Iraq",
    }


def _handler(gdelt: GdeltServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            reply = gdelt.answer(parts.path, parts.query)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def gdelt() -> Iterator[GdeltServer]:
    server = GdeltServer().start()
    yield server
    server.stop()
