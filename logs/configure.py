"""Logging setup, done once by the CLI: readable lines on a terminal, JSON lines on request.

Every record passes ``SECRET_MASK`` on its way out, whichever library emitted it: a
library (apprise, urllib3, a database driver) may log a token we handed it, so masking
at the one handler is the only place that covers them all. The CLI tells it the
secrets once the config is read (``mask_secrets``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from logs.secrets import mask, secret_forms

LogFormat = Literal["text", "json"]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and exception text)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:  # already masked (SecretMask)
            entry["exception"] = record.exc_text
        elif record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO", fmt: LogFormat = "text", stream: object = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    handler.addFilter(_library_filter)
    handler.addFilter(SECRET_MASK)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_libraries()


class SecretMask(logging.Filter):
    """Replaces every known secret in a record's message, arguments, traceback and stack
    with ``***``. Records are formatted here, once, so a secret passed as an argument
    (``logger.debug("POST %s", url)``) is caught like one written into the text."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: tuple[str, ...] = ()

    def update(self, secrets: Iterable[str]) -> None:
        self.forms = secret_forms(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.forms:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: mask what it holds, as text
            message = f"{record.msg} {record.args}"
        record.msg = mask(message, self.forms)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _PLAIN.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text, self.forms)
        if record.stack_info:
            record.stack_info = mask(record.stack_info, self.forms)
        return True


_PLAIN = logging.Formatter()
SECRET_MASK = SecretMask()
"""The one mask, on every handler ``configure_logging`` installs."""


def mask_secrets(secrets: Iterable[str]) -> None:
    """From now on, these values never appear in a log line."""
    SECRET_MASK.update(secrets)


NOISY = (
    "scrapy",
    "twisted",
    "filelock",
    "trafilatura",
    "htmldate",
    "urllib3",
    "alembic",
    "apscheduler",
    "py.warnings",
)


def _library_filter(record: logging.LogRecord) -> bool:
    """Drop library chatter below WARNING even when a library resets its own levels."""
    if record.levelno >= logging.WARNING or logging.getLogger().level < logging.INFO:
        return True
    return not record.name.startswith(NOISY)


def quiet_libraries() -> None:
    """Libraries chatty at INFO show their warnings only. Scrapy resets its loggers when a
    crawl starts, so the crawl calls this again afterwards."""
    level = max(logging.WARNING, logging.getLogger().level)
    for name in NOISY:
        logging.getLogger(name).setLevel(level)
    # A failed robots.txt fetch or a retry given up is reported once, by the source's own
    # poll error; Scrapy's tracebacks for them say nothing more.
    for name in ("scrapy.downloadermiddlewares.robotstxt", "scrapy.downloadermiddlewares.retry"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    # A tick skipped while the previous crawl still runs is the design, not a warning.
    logging.getLogger("apscheduler.scheduler").setLevel(max(logging.ERROR, level))
