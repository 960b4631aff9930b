"""``backfill --since 90d``: the archive filled with the past, then a summary per cluster
and per source."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from errors import ConfigError
from mediawatch.cli.app import app, state
from mediawatch.cli.output import RowFormatOption, print_rows

logger = logging.getLogger(__name__)

COLUMNS = [
    "cluster",
    "source",
    "windows",
    "already_done",
    "articles",
    "new",
    "duplicates",
    "errors",
    "note",
]


@app.command()
def backfill(
    ctx: typer.Context,
    since: Annotated[
        str, typer.Option("--since", help="how far back, like 30d (GDELT reaches 90d)")
    ] = "90d",
    source: Annotated[
        str | None,
        typer.Option("--source", "-s", help="only articles on this source's site (by name)"),
    ] = None,
    no_gdelt: Annotated[
        bool, typer.Option("--no-gdelt", help="do not ask the GDELT article list")
    ] = False,
    fmt: RowFormatOption = None,
) -> None:
    """Fill the archive with past articles matching the clusters, with their real dates.

    Lists each cluster's articles on the GDELT DOC 2.0 API (``[backfill] gdelt_url``), day
    by day, then fetches and stores them as the crawl does (dedupe, match, store).
    Backfilled articles build the detector's baselines and never open an episode. A
    rerun skips the finished windows, so stopping and rerunning finishes the job. A window
    GDELT fails on is one error line on stderr; it stays to do (exit 0).

    Example: mediawatch backfill --since 30d --source "Rudaw English" --format json
    """
    from clock.durations import parse_duration
    from clock.moments import utcnow
    from spiders.backfill.client import GdeltClient, urllib_transport
    from spiders.backfill.run import run_backfill
    from spiders.crawler.settings import user_agent

    try:
        span = parse_duration(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    app_state = state(ctx)
    config = app_state.config
    if source is not None and source not in {item.name for item in config.sources}:
        raise ConfigError(f"unknown source: {source} (see `mediawatch sources list`)")
    if no_gdelt:
        typer.echo(
            "nothing to backfill: GDELT is off, and sitemap and Telegram backfill are not "
            "there yet",
            err=True,
        )
        return
    crawl = config.crawl
    transport = urllib_transport(
        user_agent(crawl), crawl.timeout.total_seconds(), crawl.max_response_bytes
    )
    client = GdeltClient(config.backfill, transport, utcnow, max_bytes=crawl.max_response_bytes)
    engine = app_state.engine()
    try:
        summary = run_backfill(config, engine, client, since=span, source=source, now=utcnow())
    finally:
        engine.dispose()
    for line in summary.problems:
        typer.echo(f"mediawatch: backfill: {line}", err=True)
    rows = [
        {
            "cluster": row.cluster,
            "windows": row.windows,
            "already_done": row.already,
            "articles": row.articles,
            "errors": row.errors,
            "note": row.note,
        }
        for row in summary.clusters
    ] + [
        {
            "source": row.source,
            "articles": row.listed,
            "new": row.new,
            "duplicates": row.duplicates,
            "errors": row.failed,
        }
        for row in summary.sources
    ]
    print_rows(rows, COLUMNS, fmt, "Backfill")
