"""The front door: ``mediawatch`` and ``python -m mediawatch``.

Each command group lives in its own module and registers itself on ``app``.
Errors of the ``MediawatchError`` tree become one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

import typer

from errors import MediawatchError
from mediawatch.cli.app import app

# Command modules register themselves on ``app`` when imported.
from mediawatch.cli import database as _database  # noqa: F401  isort: skip
from mediawatch.cli import sources as _sources  # noqa: F401  isort: skip
from mediawatch.cli import crawl as _crawl  # noqa: F401  isort: skip
from mediawatch.cli import backfill as _backfill  # noqa: F401  isort: skip
from mediawatch.cli import run as _run  # noqa: F401  isort: skip
from mediawatch.cli import worker as _worker  # noqa: F401  isort: skip
from mediawatch.cli import match as _match  # noqa: F401  isort: skip
from mediawatch.cli import report as _report  # noqa: F401  isort: skip
from mediawatch.cli import search as _search  # noqa: F401  isort: skip
from mediawatch.cli import rematch as _rematch  # noqa: F401  isort: skip
from mediawatch.cli import detect as _detect  # noqa: F401  isort: skip
from mediawatch.cli import backtest as _backtest  # noqa: F401  isort: skip
from mediawatch.cli import alerts as _alerts  # noqa: F401  isort: skip
from mediawatch.cli import demo as _demo  # noqa: F401  isort: skip
from mediawatch.cli import web as _web  # noqa: F401  isort: skip

__all__ = ["app", "main"]


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the CLI; ``argv`` defaults to ``sys.argv[1:]``. Always exits."""
    command = typer.main.get_command(app)
    try:
        command.main(args=list(argv) if argv is not None else None, prog_name="mediawatch")
    except MediawatchError as exc:
        print(f"mediawatch: error: {exc}", file=sys.stderr)
        sys.exit(2)
    sys.exit(0)  # pragma: no cover - standalone mode exits by itself
