"""The webhook channel: the alert as JSON, POSTed to the user's URL and signed with HMAC.

The signature covers ``timestamp + "." + body`` (not the body alone), so a receiver that
checks the timestamp is fresh also refuses a captured request replayed later; every
resend is signed anew, while ``X-Mediawatch-Delivery`` (the outbox's idempotency key)
stays the same, so a receiver can drop a duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from alerts import render
from alerts.calibration import score
from alerts.channels.base import secret_from_env
from alerts.channels.posting import post
from alerts.message import Alert
from alerts.wording import headlines, probability_in_words, safe_url, title, trend_command
from clock.moments import aware, utc
from config.channels import WebhookChannelConfig
from errors import DeliveryError

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 20.0
SCHEMA = "mediawatch.alert/1"
"""The body's ``schema``: a receiver can tell this shape from a later one."""
SIGNATURE_HEADER = "X-Mediawatch-Signature"
TIMESTAMP_HEADER = "X-Mediawatch-Timestamp"
DELIVERY_HEADER = "X-Mediawatch-Delivery"


class WebhookChannel:
    def __init__(
        self,
        config: WebhookChannelConfig,
        environ: Mapping[str, str] | None = None,
        timeout: float = TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = config.name
        self.config = config
        self._environ = environ
        self._timeout = timeout
        self._clock = clock
        """Unix seconds, for the timestamp the signature covers."""

    def send(self, alert: Alert, idempotency_key: str) -> None:
        url = secret_from_env(self.config.url_env, "webhook URL", self._environ)
        if not url.startswith(("https://", "http://")):
            raise DeliveryError(
                f"environment variable {self.config.url_env} does not hold an http(s) URL"
            )
        secret = None
        if self.config.secret_env is not None:
            secret = secret_from_env(
                self.config.secret_env, "webhook signing secret", self._environ
            )
        body = encode(payload(alert, idempotency_key))
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "mediawatch-webhook/1",
            TIMESTAMP_HEADER: str(timestamp),
            DELIVERY_HEADER: quote(idempotency_key, safe=":#@"),
        }
        if secret is not None:
            headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
        post(
            url,
            body,
            headers,
            what=f"webhook {self.name}",
            timeout=self._timeout,
            secrets=[secret] if secret else [],
        )
        logger.info("webhook %s: sent %s", self.name, idempotency_key)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 with ``secret`` of ``timestamp + "." + body``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def encode(document: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON; a lone surrogate in scraped text becomes ``?``, never a crash."""
    text = json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.encode("utf-8", "replace")


def payload(alert: Alert, idempotency_key: str) -> dict[str, Any]:
    """The body: the alert's facts as data, and its plain text as the other channels show it.

    A digest carries its episodes in ``entries``, each with the same facts."""
    document = {
        "schema": SCHEMA,
        "id": idempotency_key,
        **_facts(alert),
        "title": title(alert),
        "text": render.text(alert),
    }
    if alert.kind == "digest":
        document["entries"] = [_facts(entry) for entry in alert.entries]
    return document


def _facts(alert: Alert) -> dict[str, Any]:
    return {
        "kind": alert.kind,
        "episode_id": alert.episode_id,
        "cluster": alert.cluster,
        "window": {"start": _moment(alert.bucket_start), "end": _moment(alert.bucket_end)},
        "observed": alert.observed,
        "expected": _number(alert.expected),
        "tail_probability": _number(alert.tail_probability),
        "score": _number(float(score(alert.tail_probability))),
        "unusual": probability_in_words(alert.tail_probability),
        "sources": alert.sources,
        "languages": list(alert.languages),
        "headlines": [
            {
                "title": headline.title,
                "url": safe_url(headline.url),
                "publisher": headline.publisher,
                "published_at": _moment(headline.published_at),
            }
            for headline in headlines(alert)
        ],
        "trend_command": trend_command(alert),
    }


def _moment(moment: datetime | None) -> str | None:
    return None if moment is None else aware(utc(moment)).isoformat().replace("+00:00", "Z")


def _number(value: float) -> float | None:
    """JSON has no NaN or infinity: such a value is ``null``."""
    return value if math.isfinite(value) else None
