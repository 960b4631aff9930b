"""``backfill --since 90d``: the archive filled with the past, its progress on stderr, then
a summary per cluster and per source."""

from __future__ import annotations

import logging
import sys
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
    "pages",
    "articles",
    "new",
    "duplicates",
    "skipped",
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
        typer.Option(
            "--source",
            "-s",
            help="only this source: its Telegram pages, its sitemap, GDELT on its site",
        ),
    ] = None,
    no_gdelt: Annotated[
        bool, typer.Option("--no-gdelt", help="do not ask the GDELT article list")
    ] = False,
    fmt: RowFormatOption = None,
) -> None:
    """Fill the archive with past articles, with their real dates.

    Lists each cluster's articles on the GDELT DOC 2.0 API (``[backfill] gdelt_url``), day
    by day; pages back through each Telegram channel (``?before=``) and walks each sitemap
    index's dated children; then fetches and stores it all as the crawl does (dedupe,
    match, store). Backfilled articles build the detector's baselines and never open an
    episode. A rerun skips what is finished, so stopping and rerunning finishes the job.
    Progress goes to stderr; a window or page that fails is one error line there and
    stays to do (exit 0).

    Example: mediawatch backfill --since 30d --source "Rudaw English" --format json
    """
    from clock.durations import parse_duration
    from clock.moments import utcnow
    from mediawatch.cli.backfill_progress import ProgressLine
    from spiders.backfill.client import GdeltClient, urllib_transport
    from spiders.backfill.run import run_backfill
    from spiders.backfill.walks import WALKED_KINDS
    from spiders.crawler.settings import user_agent

    try:
        span = parse_duration(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    app_state = state(ctx)
    config = app_state.config
    if source is not None and source not in {item.name for item in config.sources}:
        raise ConfigError(f"unknown source: {source} (see `mediawatch sources list`)")
    walked = [
        item
        for item in config.sources
        if item.kind in WALKED_KINDS and (source is None or item.name == source)
    ]
    if no_gdelt and not walked:
        typer.echo(
            "nothing to backfill: GDELT is off, and no Telegram or sitemap source is chosen",
            err=True,
        )
        return
    crawl = config.crawl
    client = None
    if not no_gdelt:
        transport = urllib_transport(
            user_agent(crawl), crawl.timeout.total_seconds(), crawl.max_response_bytes
        )
        client = GdeltClient(config.backfill, transport, utcnow, max_bytes=crawl.max_response_bytes)
    engine = app_state.engine()
    progress = ProgressLine(sys.stderr)
    try:
        summary = run_backfill(
            config, engine, client, since=span, source=source, now=utcnow(), progress=progress
        )
    finally:
        progress.close()
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
            "pages": row.pages,
            "articles": row.listed,
            "new": row.new,
            "duplicates": row.duplicates,
            "skipped": row.skipped,
            "errors": row.failed + row.errors,
            "note": row.note,
        }
        for row in summary.sources
    ]
    print_rows(rows, COLUMNS, fmt, "Backfill")
