"""``crawl --once`` and ``crawl --due``: one crawl run, then a summary per source."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from typing import Annotated

import typer

from errors import ConfigError
from mediawatch.cli.app import app, state
from mediawatch.cli.output import RowFormat, RowFormatOption, is_tty, print_rows

logger = logging.getLogger(__name__)

COLUMNS = ["source", "status", "http", "entries", "new", "duplicates", "not_modified", "error"]


@app.command()
def crawl(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="crawl every enabled source now")] = False,
    due: Annotated[
        bool, typer.Option("--due", help="crawl only the sources that are due (the service tick)")
    ] = False,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", "-s", help="only this source (by name); repeat for more"),
    ] = None,
    fmt: RowFormatOption = None,
) -> None:
    """Fetch new articles from the sources, store them, and print a summary per source.

    Sources that fail do not fail the command (exit 0): their errors are in the summary
    and in ``sources status``. Exactly one of --once or --due.

    Example: mediawatch crawl --once --source "Rudaw English" --format json
    """
    from clock.moments import utcnow
    from spiders.crawler.run import run_crawl

    if once == due:
        raise typer.BadParameter("give exactly one of --once or --due", param_hint="--once/--due")
    app_state = state(ctx)
    config = app_state.config
    names = list(source or [])
    unknown = sorted(set(names) - {s.name for s in config.sources})
    if unknown:
        raise ConfigError(
            f"unknown source(s): {', '.join(unknown)} (see `mediawatch sources list`)"
        )
    engine = app_state.engine()
    progress: AbstractContextManager[object] = nullcontext()
    if is_tty() and fmt in (None, RowFormat.TABLE):
        from rich.console import Console

        progress = Console(stderr=True).status("crawling…", spinner="dots")
    try:
        with progress:
            summary = run_crawl(config, engine, due_only=due, names=names, now=utcnow())
    finally:
        engine.dispose()
    rows = [
        {
            "source": row.source,
            "status": row.status,
            "http": row.http,
            "entries": row.entries,
            "new": row.new,
            "duplicates": row.duplicates,
            "not_modified": row.not_modified,
            "error": row.error,
        }
        for row in summary.sources
    ]
    print_rows(rows, COLUMNS, fmt, "Crawl")
    if fmt in (None, RowFormat.TABLE) and is_tty():
        seconds = (summary.finished_at - summary.started_at).total_seconds()
        typer.echo(
            f"{len(rows)} source(s), {summary.new} new article(s), "
            f"{summary.errors} error(s) in {seconds:.1f}s",
            err=True,
        )
