"""Logging setup, done once by the CLI: readable lines on a terminal, JSON lines on request."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

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
        if record.exc_info:
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
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_libraries()


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
