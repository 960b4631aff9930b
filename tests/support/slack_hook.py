"""A local HTTP server that plays a Slack incoming webhook (and any JSON webhook).

Fixture ``slack_hook`` (import ``slack_hook_fixture`` in ``conftest.py``): a running
server on 127.0.0.1.

* ``hook.url`` looks like a real webhook (``/services/T.../B.../<token>``): posts there
  are checked as Slack would: JSON with a non-empty ``text`` and a valid ``blocks``
  list of Block Kit blocks; a valid one gets ``200 ok``, an invalid one
  ``400 invalid_blocks`` (and ``hook.problems`` says why).
* ``hook.apprise_url`` is a ``json://`` apprise URL to the same server (path
  ``/apprise``); posts to any other path are recorded and answered ``200 ok``.
* ``hook.fail(status, times=..., retry_after=...)`` makes the next posts fail (500,
  429 with Retry-After, ...); ``hook.stop()``/``hook.start()`` take it down and up
  on the same port.
* ``hook.script(ref, answer, ...)`` answers the next posts of one message (found by the
  ``ref`` in its context block) with these answers in order, then accepts it: a
  ``Scripted(status, retry_after)``, ``HANG`` (no answer until the client gives up) or
  ``DROP`` (the connection is closed without an answer). ``hook.answered`` lists
  ``(ref, what)`` for every post of a scripted or accepted message.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

SLACK_TOKEN_PATH = "/services/T0TEST000/B0TEST000/sEcReTwebhookToken1234"

BLOCK_TYPES = {"header", "section", "context", "divider", "actions", "image", "rich_text"}
TEXT_TYPES = {"plain_text", "mrkdwn"}


HANG = "hang"
"""Answer nothing until the client's timeout has passed (``hook.hang_seconds``)."""
DROP = "drop"
"""Close the connection without an answer."""


@dataclass(frozen=True)
class Scripted:
    """One scripted HTTP answer: a status and, if given, a ``Retry-After`` header."""

    status: int
    retry_after: str | None = None


Answer = Scripted | str


@dataclass(frozen=True)
class HookRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def ref(self) -> str | None:
        """The mediawatch reference in a Slack payload's context block, if any."""
        try:
            payload = self.json()
            for block in payload.get("blocks") or ():
                if isinstance(block, dict) and block.get("type") == "context":
                    for element in block.get("elements") or ():
                        text = element.get("text", "") if isinstance(element, dict) else ""
                        if " ref " in text:
                            return str(text.rsplit(" ref ", 1)[1])
        except (ValueError, AttributeError):
            return None
        return None


def slack_problems(payload: Any) -> list[str]:
    """What Slack would reject in an incoming-webhook payload (the rules we rely on)."""
    if not isinstance(payload, dict):
        return ["payload is not a JSON object"]
    problems: list[str] = []
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.append("`text` (the fallback) is missing or empty")
    blocks = payload.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        return [*problems, "`blocks` is not a non-empty list"]
    if len(blocks) > 50:
        problems.append("more than 50 blocks")
    for index, block in enumerate(blocks):
        where = f"blocks[{index}]"
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            problems.append(f"{where}: unknown block type")
            continue
        kind = block["type"]
        if kind == "header":
            problems += _text_problems(block.get("text"), f"{where}.text", 150, plain=True)
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"{where}: a section needs text or fields")
            if "text" in block:
                problems += _text_problems(block["text"], f"{where}.text", 3000)
            fields = block.get("fields", [])
            if not isinstance(fields, list) or len(fields) > 10:
                problems.append(f"{where}.fields: at most 10")
            else:
                for number, item in enumerate(fields):
                    problems += _text_problems(item, f"{where}.fields[{number}]", 2000)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                problems.append(f"{where}.elements: 1 to 10 elements")
            else:
                for number, item in enumerate(elements):
                    problems += _text_problems(item, f"{where}.elements[{number}]", 3000)
    return problems


def _text_problems(obj: Any, where: str, limit: int, *, plain: bool = False) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in TEXT_TYPES:
        return [f"{where}: not a text object"]
    if plain and obj["type"] != "plain_text":
        return [f"{where}: must be plain_text"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"{where}: empty text"]
    if len(text) > limit:
        return [f"{where}: longer than {limit} characters"]
    return []


class SlackHook:
    """The server; ``requests`` lists every POST, ``accepted`` the ones answered 2xx."""

    def __init__(self) -> None:
        self.requests: list[HookRequest] = []
        self.accepted: list[HookRequest] = []
        self.problems: list[str] = []
        self.lock = threading.Lock()
        self._failures: list[tuple[int, str | None]] = []
        self._scripts: dict[str, list[Answer]] = {}
        self.answered: list[tuple[str, str]] = []
        self.hang_seconds = 1.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{SLACK_TOKEN_PATH}"

    @property
    def apprise_url(self) -> str:
        return f"json://127.0.0.1:{self.port}/apprise"

    def slack_payloads(self) -> list[Any]:
        with self.lock:
            return [r.json() for r in self.accepted if r.path.startswith("/services/")]

    def fail(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next ``times`` posts with ``status`` (and ``Retry-After``)."""
        with self.lock:
            self._failures += [(status, retry_after)] * times

    def script(self, ref: str, *answers: Answer) -> None:
        """Answer the next posts of message ``ref`` with ``answers``, then accept it."""
        with self.lock:
            self._scripts.setdefault(ref, []).extend(answers)

    def reset(self) -> None:
        """Forget every post, failure and script (between examples of one test)."""
        with self.lock:
            self.requests.clear()
            self.accepted.clear()
            self.problems.clear()
            self.answered.clear()
            self._failures.clear()
            self._scripts.clear()

    def accepted_refs(self) -> list[str | None]:
        with self.lock:
            return [request.ref for request in self.accepted]

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        server.daemon_threads = True
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def answer(self, request: HookRequest) -> tuple[int, dict[str, str], bytes] | str:
        """The status, headers and body to answer ``request`` with, or ``HANG``/``DROP``."""
        with self.lock:
            self.requests.append(request)
            ref = request.ref
            scripted = self._scripts.get(ref or "")
            if scripted:
                answer = scripted.pop(0)
                if isinstance(answer, str):
                    self.answered.append((ref or "", answer))
                    return answer
                if answer.status < 200 or answer.status >= 300:
                    self.answered.append((ref or "", str(answer.status)))
                    headers = (
                        {} if answer.retry_after is None else {"Retry-After": answer.retry_after}
                    )
                    return answer.status, headers, b"scripted_error"
            if self._failures:
                status, retry_after = self._failures.pop(0)
                headers = {"Retry-After": retry_after} if retry_after else {}
                return status, headers, b"rate_limited" if status == 429 else b"server_error"
            if request.path.startswith("/services/"):
                if request.path != SLACK_TOKEN_PATH:
                    return 404, {}, b"no_service"
                try:
                    problems = slack_problems(request.json())
                except ValueError:
                    problems = ["body is not JSON"]
                if problems:
                    self.problems += problems
                    return 400, {}, b"invalid_blocks"
            self.accepted.append(request)
            if ref is not None:
                self.answered.append((ref, "200"))
            return 200, {}, b"ok"


def _handler_for(hook: SlackHook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            request = HookRequest(self.path, dict(self.headers.items()), body)
            answered = hook.answer(request)
            if isinstance(answered, str):
                if answered == HANG:
                    time.sleep(hook.hang_seconds)
                self.close_connection = True
                return
            status, headers, answer = answered
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(name="slack_hook")
def slack_hook_fixture() -> Iterator[SlackHook]:
    """A running Slack-like webhook server; stopped after the test."""
    hook = SlackHook()
    hook.start()
    yield hook
    hook.stop()
