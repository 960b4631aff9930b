"""The console channel: the plain-text alert on standard output (the offline demo)."""

from __future__ import annotations

import sys
from typing import TextIO

from alerts import render
from alerts.message import Alert
from config.channels import ConsoleChannelConfig as ConsoleConfig
from errors import DeliveryError

RULE = "=" * 72


class ConsoleChannel:
    def __init__(self, config: ConsoleConfig, stream: TextIO | None = None) -> None:
        self.name = config.name
        self._stream = stream

    def send(self, alert: Alert, idempotency_key: str) -> None:
        stream = self._stream or sys.stdout
        try:
            stream.write(f"{RULE}\n{render.text(alert)}(ref {idempotency_key})\n{RULE}\n")
            stream.flush()
        except (OSError, ValueError) as exc:
            raise DeliveryError(f"cannot write to the console: {exc}") from None
