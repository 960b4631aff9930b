"""The Slack channel: an incoming webhook, Block Kit blocks with a ``text`` fallback.

The webhook URL is a secret (anyone holding it can post): it comes from the
environment variable named by ``webhook_url_env`` and never appears in an error.
A 2xx answer is acceptance; 429 becomes ``RateLimitedError`` with Retry-After; anything
else is a ``DeliveryError``. Incoming webhooks have no idempotency key, so each
message carries its reference in a context block to make a resend recognisable.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from alerts import render
from alerts.channels.base import RateLimitedError, scrub, secret_from_env
from alerts.message import Alert
from mediawatch.config import SlackChannel as SlackConfig
from mediawatch.errors import DeliveryError

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 20.0
DEFAULT_RETRY_AFTER = 60.0


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
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                response.read(1024)
        except urllib.error.HTTPError as exc:
            answer = _body(exc)
            if exc.code == 429:
                retry_after = retry_after_seconds(exc.headers.get("Retry-After"))
                raise RateLimitedError(
                    f"Slack webhook {self.name} is rate limited (429); retry after "
                    f"{retry_after:.0f}s",
                    retry_after,
                ) from None
            raise DeliveryError(
                scrub(f"Slack webhook {self.name} answered {exc.code}: {answer}", [url])
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise DeliveryError(
                scrub(f"cannot reach the Slack webhook {self.name}: {reason}", [url])
            ) from None
        logger.info("slack %s: sent %s", self.name, idempotency_key)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float:
    """``Retry-After`` as seconds: a number or an HTTP date; default 60s, at most 1h."""
    if not value:
        return DEFAULT_RETRY_AFTER
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 1.0), 3600.0)


def _body(exc: urllib.error.HTTPError) -> str:
    try:
        text = exc.read(300).decode("utf-8", "replace")
    except OSError:
        return exc.reason if isinstance(exc.reason, str) else ""
    return " ".join(text.split()) or str(exc.reason)
