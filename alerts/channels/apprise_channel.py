"""The apprise channel: everything else (Teams, Telegram, Discord, ntfy, webhooks).

The apprise URLs carry tokens, so they come from the environment variable named by
``urls_env`` (several URLs separated by spaces or commas). ``notify`` answering False
for any URL is a ``DeliveryError``; the message names the services, never the URLs.

One outbox message per URL, so that a retry goes only where the alert has not arrived:
detection queues an alert for an apprise channel ``name`` whose variable holds N > 1
URLs as N messages, ``name#1`` ... ``name#N`` (``alerts.channels.delivery_names``), and
each is sent to URL #i alone by ``channel.only(i)`` (``alerts.channels.resolve_channel``),
with retries of its own. A message for plain ``name`` (one URL, or the variable was unset
when the alert was queued) goes to every URL, and a retry repeats it at all of them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import apprise

from alerts import render, wording
from alerts.channels.base import scrub, secret_from_env
from alerts.message import Alert
from config.channels import AppriseChannelConfig as AppriseConfig
from errors import DeliveryError

logger = logging.getLogger(__name__)


def split_urls(value: str) -> list[str]:
    return [url for url in re.split(r"[\s,]+", value) if url]


class AppriseChannel:
    def __init__(
        self,
        config: AppriseConfig,
        environ: Mapping[str, str] | None = None,
        url_number: int | None = None,
    ) -> None:
        self.name = config.name if url_number is None else f"{config.name}#{url_number}"
        self.config = config
        self._environ = environ
        self.url_number = url_number
        """Send to this URL (1-based) of the variable only; None: to every URL."""

    def only(self, url_number: int) -> AppriseChannel:
        """The same channel, sending to URL #``url_number`` alone (named ``name#N``)."""
        return AppriseChannel(self.config, self._environ, url_number)

    def send(self, alert: Alert, idempotency_key: str) -> None:
        variable = self.config.urls_env
        urls = split_urls(secret_from_env(variable, "apprise URLs", self._environ))
        chosen = list(enumerate(urls, start=1))
        if self.url_number is not None:
            if not 1 <= self.url_number <= len(urls):
                raise DeliveryError(
                    f"environment variable {variable} has no URL #{self.url_number} "
                    f"any more (it holds {len(urls)})"
                )
            chosen = [chosen[self.url_number - 1]]
        services: list[tuple[str, apprise.Apprise]] = []
        for index, url in chosen:
            one = apprise.Apprise()
            if not one.add(url):
                raise DeliveryError(
                    f"URL #{index} in environment variable {variable} is not an apprise URL"
                )
            _bound_server_waits(one)
            services.append((_service_name(one, index), one))
        body = f"{render.text(alert)}\n(ref {idempotency_key})\n"
        failed: list[str] = []
        for label, one in services:
            try:
                ok = bool(
                    one.notify(
                        title=wording.title(alert), body=body, body_format=apprise.NotifyFormat.TEXT
                    )
                )
            except Exception as exc:  # a plugin bug must not stop the other services
                logger.warning("apprise %s: %s raised %s", self.name, label, scrub(str(exc), urls))
                ok = False
            if not ok:
                failed.append(label)
        if failed:
            # Only a message for all URLs at once (plain ``name``) repeats the others.
            raise DeliveryError(
                f"apprise could not notify {', '.join(failed)} "
                f"({len(failed)} of {len(services)} URLs in {variable})"
            )
        logger.info(
            "apprise %s: sent %s to %d service(s)", self.name, idempotency_key, len(services)
        )


MAX_SERVER_WAIT = 30.0
"""The longest an apprise plugin may sleep inside ``notify`` because its server asked
(a 429's ``Retry-After``, Discord's ``X-RateLimit-Reset``), in seconds. Plugins sleep
as long as they are told, while the outbox holds the message claimed and the deliver
job waits: a longer wait (or NaN) fails this try instead, and the outbox retries it
after its own bounded backoff."""


def _bound_server_waits(one: apprise.Apprise) -> None:
    for server in one:
        setattr(server, "throttle", _bounded_throttle(server.throttle))  # noqa: B010


def _bounded_throttle(throttle: Callable[..., Any]) -> Callable[..., Any]:
    def bounded(last_io: Any = None, wait: float | None = None) -> Any:
        if wait is not None and not 0 <= wait <= MAX_SERVER_WAIT:  # NaN fails too
            raise DeliveryError(f"the server asked to wait {wait:.0f}s; retrying later")
        return throttle(last_io=last_io, wait=wait)

    return bounded


def _service_name(one: apprise.Apprise, index: int) -> str:
    for server in one:
        name = getattr(server, "service_name", None) or type(server).__name__
        return f"#{index} ({name})"
    return f"#{index}"
