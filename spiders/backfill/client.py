"""Asking GDELT for one window's article list, politely: requests spaced by
``[backfill] gdelt_interval``, a 429 waited out as its ``Retry-After`` says.

Errors are results: whatever goes wrong (network, status, body) comes back as an
``ArtList`` with its ``error``, so one bad window never stops the walk.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from urllib.parse import urlencode

from clock.moments import retry_after_seconds
from config.backfill import BackfillConfig
from spiders.backfill.gdelt import ArtList, Window, artlist_params, parse_artlist

logger = logging.getLogger(__name__)

MAX_TRIES = 5
"""Requests per window while GDELT answers 429."""

LONGEST_WAIT = 600.0
"""A ``Retry-After`` longer than this fails the window (the next run retries it)."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    body: bytes


Transport = Callable[[str], Answer]
"""GET one URL; raises ``OSError`` when no answer came."""


def urllib_transport(user_agent: str, timeout: float, max_bytes: int) -> Transport:
    """The real transport: a plain GET (the GDELT address is the operator's, not a page's)."""

    def get(url: str) -> Answer:
        request = urllib.request.Request(url, headers={"User-Agent": user_agent})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return Answer(response.status, response.headers, response.read(max_bytes + 1))
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, exc.headers, exc.read(max_bytes + 1))

    return get


@dataclass
class GdeltClient:
    config: BackfillConfig
    transport: Transport
    clock: Callable[[], datetime]
    sleep: Callable[[float], None] = time.sleep
    max_bytes: int = 10_000_000
    requests: int = 0
    _last: float | None = field(default=None, repr=False)

    def artlist(self, query: str, window: Window) -> ArtList:
        url = f"{self.config.gdelt_url}?{urlencode(artlist_params(query, window))}"
        for _ in range(MAX_TRIES):
            self._pace()
            try:
                answer = self.transport(url)
            except (OSError, ValueError) as exc:  # refused, timed out, a malformed URL
                return ArtList(error=f"no answer: {type(exc).__name__}: {exc}")
            finally:
                self._last = time.monotonic()
                self.requests += 1
            if answer.status == 429:
                wait = retry_after_seconds(answer.headers.get("Retry-After"), self.clock())
                wait = self.config.gdelt_interval.total_seconds() * 2 if wait is None else wait
                if wait > LONGEST_WAIT:
                    return ArtList(error=f"HTTP 429, asked to wait {wait:.0f}s; run again later")
                logger.info("GDELT answered 429; waiting %.1fs", wait)
                self.sleep(wait)
                continue
            if answer.status != 200:
                return ArtList(error=f"HTTP {answer.status}")
            if len(answer.body) > self.max_bytes:
                return ArtList(error=f"answer larger than {self.max_bytes} bytes")
            return parse_artlist(answer.body)
        return ArtList(error=f"HTTP 429 {MAX_TRIES} times in a row")

    def _pace(self) -> None:
        if self._last is None:
            return
        wait = self.config.gdelt_interval.total_seconds() - (time.monotonic() - self._last)
        if wait > 0:
            self.sleep(wait)
