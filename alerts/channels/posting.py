"""One HTTP POST to a webhook, its answer sorted the way the outbox needs it.

A 2xx answer is acceptance; redirects are not followed (a redirected POST would arrive
as a GET, and its 200 would be taken for acceptance). 429, or a 5xx with Retry-After,
is a ``RateLimitedError``; a 4xx other than 408/429 a ``MessageRejectedError``; anything
else (5xx, a timeout, no connection, an answer that is not HTTP) a ``DeliveryError``,
i.e. an outage. Every message is scrubbed of the secrets the caller names (the URL).
"""

from __future__ import annotations

import contextlib
import http.client
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from datetime import datetime

from alerts.channels.base import (
    DEFAULT_RETRY_AFTER,
    MessageRejectedError,
    RateLimitedError,
    bounded_retry_after,
    http_rejects_message,
    scrub,
)
from clock.moments import retry_after_seconds as header_seconds
from clock.moments import utc, utcnow
from errors import DeliveryError


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the 3xx is raised as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirects)


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    what: str,
    timeout: float,
    secrets: Iterable[str] = (),
) -> None:
    """POST ``body`` to ``url``; return on a 2xx, else raise (see the module doc).

    ``what`` names the destination in errors (``webhook alerts-hook``); ``secrets`` are
    scrubbed from them, ``url`` always."""
    hidden = [url, *secrets]
    if not url.startswith(("https://", "http://")):
        raise DeliveryError(f"the {what} URL is not an http(s) URL")
    request = urllib.request.Request(  # noqa: S310  (scheme checked above)
        url, data=body, method="POST", headers=dict(headers)
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            _drain(response)
    except urllib.error.HTTPError as exc:
        with exc:  # the answer's connection is closed, whatever it said
            raise refusal(exc, what, hidden) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        # HTTPException: an answer that is not HTTP (a garbage status line or headers).
        reason = str(getattr(exc, "reason", None) or exc) or type(exc).__name__
        raise DeliveryError(scrub(f"cannot reach the {what}: {reason}", hidden)) from None


def refusal(exc: urllib.error.HTTPError, what: str, secrets: Iterable[str]) -> DeliveryError:
    """The error for a non-2xx answer: rate limited, this message rejected, or an outage."""
    retry_after = exc.headers.get("Retry-After") if exc.headers else None
    if exc.code == 429 or (exc.code >= 500 and retry_after):
        seconds = retry_after_seconds(retry_after)
        said = "is rate limited (429)" if exc.code == 429 else f"answered {exc.code}"
        return RateLimitedError(f"{what} {said}; retry after {seconds:.0f}s", seconds)
    text = scrub(f"{what} answered {exc.code}: {_body(exc)}", secrets)
    if http_rejects_message(exc.code):
        return MessageRejectedError(text)
    return DeliveryError(text)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float:
    """``Retry-After`` as seconds (``clock.moments.retry_after_seconds``): default 60 s when
    absent or unreadable, always 1 s to 1 h, so the outbox can add it to a date."""
    moment = utc(now) if now is not None else utcnow()
    seconds = header_seconds(value, moment)
    return DEFAULT_RETRY_AFTER if seconds is None else bounded_retry_after(seconds)


def _drain(response: http.client.HTTPResponse) -> None:
    """Read a little of a 2xx answer; a broken body does not undo the acceptance."""
    with contextlib.suppress(OSError, http.client.HTTPException):
        response.read(1024)


def _body(exc: urllib.error.HTTPError) -> str:
    try:
        text = exc.read(300).decode("utf-8", "replace")
    except OSError:
        return exc.reason if isinstance(exc.reason, str) else ""
    return " ".join(text.split()) or str(exc.reason)
