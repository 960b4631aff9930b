"""The Slack channel: an incoming webhook, Block Kit blocks with a ``text`` fallback.

The webhook URL is a secret (anyone holding it can post): it comes from the
environment variable named by ``webhook_url_env`` and never appears in an error.
A 2xx answer is acceptance (redirects are not followed: a redirected POST would arrive
as a GET, and its 200 would be taken for acceptance). 429 becomes ``RateLimitedError``
with Retry-After; a 4xx other than 408/429 (``invalid_blocks``, ``channel_not_found``)
is a ``MessageRejectedError``; anything else (5xx, timeouts, a broken answer) is a
``DeliveryError``, i.e. an outage. Incoming webhooks have no idempotency key, so each
message carries its reference in a context block to make a resend recognisable.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import datetime

from alerts import render
from alerts.channels.base import (
    DEFAULT_RETRY_AFTER,
    MessageRejectedError,
    RateLimitedError,
    bounded_retry_after,
    http_rejects_message,
    scrub,
    secret_from_env,
)
from alerts.message import Alert
from clock.moments import retry_after_seconds as header_seconds
from clock.moments import utc, utcnow
from config.channels import SlackChannelConfig as SlackConfig
from errors import DeliveryError

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 20.0


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the 3xx is raised as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirects)


class SlackChannel:
    def __init__(
        self,
        config: SlackConfig,
        environ: Mapping[str, str] | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.name = config.name
        self.config = config
        self._environ = environ
        self._timeout = timeout

    def send(self, alert: Alert, idempotency_key: str) -> None:
        url = secret_from_env(self.config.webhook_url_env, "Slack webhook URL", self._environ)
        if not url.startswith(("https://", "http://")):
            raise DeliveryError(
                f"environment variable {self.config.webhook_url_env} does not hold an http(s) URL"
            )
        body = json.dumps(render.slack_payload(alert, idempotency_key)).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310  (scheme checked above)
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        try:
            with _OPENER.open(request, timeout=self._timeout) as response:
                _drain(response)
        except urllib.error.HTTPError as exc:
            raise self._refusal(exc, url) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            # HTTPException: an answer that is not HTTP (a garbage status line or headers).
            reason = str(getattr(exc, "reason", None) or exc) or type(exc).__name__
            raise DeliveryError(
                scrub(f"cannot reach the Slack webhook {self.name}: {reason}", [url])
            ) from None
        logger.info("slack %s: sent %s", self.name, idempotency_key)

    def _refusal(self, exc: urllib.error.HTTPError, url: str) -> DeliveryError:
        """The error for a non-2xx answer: rate limited, this message rejected, or an outage."""
        answer = _body(exc)
        retry_after = exc.headers.get("Retry-After") if exc.headers else None
        if exc.code == 429 or (exc.code >= 500 and retry_after):
            seconds = retry_after_seconds(retry_after)
            what = "is rate limited (429)" if exc.code == 429 else f"answered {exc.code}"
            return RateLimitedError(
                f"Slack webhook {self.name} {what}; retry after {seconds:.0f}s", seconds
            )
        text = scrub(f"Slack webhook {self.name} answered {exc.code}: {answer}", [url])
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
    try:
        response.read(1024)
    except (OSError, http.client.HTTPException) as exc:
        logger.debug("slack: the body of a 2xx answer could not be read: %s", type(exc).__name__)


def _body(exc: urllib.error.HTTPError) -> str:
    try:
        text = exc.read(300).decode("utf-8", "replace")
    except OSError:
        return exc.reason if isinstance(exc.reason, str) else ""
    return " ".join(text.split()) or str(exc.reason)
