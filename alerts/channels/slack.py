"""The Slack channel: an incoming webhook, Block Kit blocks with a ``text`` fallback.

The webhook URL is a secret (anyone holding it can post): it comes from the
environment variable named by ``webhook_url_env`` and never appears in an error.
The POST and the sorting of its answer are ``alerts.channels.posting``'s (a 4xx such as
``invalid_blocks`` or ``channel_not_found`` rejects the message; 429 waits). Incoming
webhooks have no idempotency key, so each message carries its reference in a context
block to make a resend recognisable.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from alerts import render
from alerts.channels.base import secret_from_env
from alerts.channels.posting import post
from alerts.message import Alert
from config.channels import SlackChannelConfig as SlackConfig
from errors import DeliveryError

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 20.0


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
        post(
            url,
            body,
            {"Content-Type": "application/json; charset=utf-8"},
            what=f"Slack webhook {self.name}",
            timeout=self._timeout,
        )
        logger.info("slack %s: sent %s", self.name, idempotency_key)
