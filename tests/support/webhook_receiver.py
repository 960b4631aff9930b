"""A webhook receiver on loopback, as a user's endpoint would be: it verifies each POST's
signature and timestamp, records what it accepted, answers what a test tells it to, and
can be taken down and brought back on the same port.

Fixture ``receiver`` (import ``receiver_fixture`` in the test module): a running one whose
secret is ``SECRET``. ``receiver.answer(status, times, retry_after)`` answers the next
verified posts so; ``receiver.refuse(delivery_id, status)`` answers every post of one alert
so; a post that fails ``verify`` is answered 401 and its reason kept in ``refused``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

SECRET = "whsec-Test-5ecret-0f-the-Receiver"
HOOK_PATH = "/hooks/mediawatch/Tok3nInTheUrl42"
TOLERANCE = 300
"""Seconds a receiver accepts between our timestamp and its clock (README says 5 min)."""


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
    """None when the request is signed with ``secret`` and fresh, else why not (README's
    recipe, written independently of the channel)."""
    stamp = headers.get("x-mediawatch-timestamp", "")
    if not stamp.isdigit():
        return "no timestamp"
    if abs(now - int(stamp)) > TOLERANCE:
        return "stale timestamp"
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    if not hmac.compare_digest(
        "sha256=" + mac.hexdigest(), headers.get("x-mediawatch-signature", "")
    ):
        return "bad signature"
    return None


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def id(self) -> str:
        return self.headers["x-mediawatch-delivery"]


class Receiver:
    """A webhook endpoint: verifies, records, answers what it is told; ``stop``/``start``
    take it down and bring it back on the same port."""

    def __init__(self, secret: str | None = SECRET) -> None:
        self.secret = secret
        self.accepted: list[Delivery] = []
        self.refused: list[str] = []
        self.posts: list[Delivery] = []
        self._answers: list[tuple[int, str | None]] = []
        self._refusing: dict[str, int] = {}
        self.lock = threading.Lock()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{HOOK_PATH}"

    def answer(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next ``times`` verified posts with ``status`` (and Retry-After)."""
        with self.lock:
            self._answers += [(status, retry_after)] * times

    def refuse(self, delivery_id: str, status: int) -> None:
        """Answer every verified post of one alert (by its delivery id) with ``status``."""
        with self.lock:
            self._refusing[delivery_id] = status

    def handle(self, delivery: Delivery) -> tuple[int, dict[str, str]]:
        with self.lock:
            self.posts.append(delivery)
            if self.secret is not None:
                why = verify(self.secret, delivery.headers, delivery.body, time.time())
                if why is not None:
                    self.refused.append(why)
                    return 401, {}
            if delivery.id in self._refusing:
                return self._refusing[delivery.id], {}
            if self._answers:
                status, retry_after = self._answers.pop(0)
                return status, {"Retry-After": retry_after} if retry_after else {}
            self.accepted.append(delivery)
            return 204, {}

    def ids(self) -> list[str]:
        with self.lock:
            return [delivery.id for delivery in self.accepted]

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        server.daemon_threads = True
        self.port = int(server.server_address[1])
        self._server = server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, extra = receiver.handle(Delivery(headers, body))
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(name="receiver")
def receiver_fixture() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()
