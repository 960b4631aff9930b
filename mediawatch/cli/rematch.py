"""``rematch``: the stored archive against the current watch-list."""

from __future__ import annotations

import json
import logging
import sys
from typing import Annotated

import typer

from clock.moments import utcnow
from clock.periods import parse_moment
from mediawatch.cli.app import app, state
from mediawatch.cli.output import RowFormat, TableOrJson, print_rows

logger = logging.getLogger(__name__)


@app.command("rematch")
def rematch(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(help="Only articles seen since (90d or a date); default all")
    ] = None,
    fmt: Annotated[TableOrJson, typer.Option("--format", help="table or json")] = TableOrJson.TABLE,
) -> None:
    """Re-match stored articles against the current watch-list and say what changed.

    Run it after adding an alias or a cluster so that history, reports and the spike
    detector's baselines reflect the new watch-list. Work is done in batches, each in
    its own transaction: an interrupted rematch can simply be run again. Prints, per
    cluster, the articles added, removed, and counted for other terms.

    Example: mediawatch rematch --since 90d
    """
    from archive.rematch import rematch as run_rematch
    from storage.engine import session_factory

    config = state(ctx).config
    start = parse_moment(since, utcnow()) if since else None
    engine = state(ctx).engine()
    try:
        result = run_rematch(session_factory(engine), config.watchlist(), since=start)
    finally:
        engine.dispose()
    rows = result.rows()
    if fmt is TableOrJson.JSON:
        json.dump(
            {
                "checked": result.checked,
                "changed": result.changed,
                "kept": result.kept,
                "clusters": rows,
            },
            sys.stdout,
            ensure_ascii=False,
        )
        sys.stdout.write("\n")
        return
    print(f"{result.checked:,} articles checked, {result.changed:,} changed")
    if result.kept:
        print(f"{result.kept:,} kept as they were: their text was dropped by [storage] retain_text")
    if rows:
        print_rows(rows, ("cluster", "added", "removed", "retermed"), RowFormat.TABLE)
