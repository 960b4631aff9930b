"""``alerts backtest``: what the detector would have fired on the archive."""

from __future__ import annotations

from typing import Annotated

import typer

from mediawatch.cli.alerts import alerts_app
from mediawatch.cli.app import state
from mediawatch.cli.output import Format, print_rows


@alerts_app.command("backtest")
def backtest_command(
    ctx: typer.Context,
    since: Annotated[
        str, typer.Option(help="Start: a duration back from now (90d) or a date")
    ] = "90d",
    cluster: Annotated[
        list[str] | None, typer.Option("--cluster", help="Only this cluster (repeatable)")
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="table, json, csv or tsv")] = None,
) -> None:
    """What would have fired on the archive, per cluster, without sending anything.

    Replays the detector and the episode rules (cooldown, one update) over the period
    as if detect had run after every bucket; opens and updates are listed.

    Example: mediawatch alerts backtest --since 90d --format json
    """
    from alerts.detect import backtest
    from mediawatch.periods import parse_moment
    from storage.clock import utcnow
    from storage.engine import session_factory

    if fmt not in (None, "table", "json", "csv", "tsv"):
        raise typer.BadParameter(f"unknown format {fmt!r}", param_hint="--format")
    app_state = state(ctx)
    config = app_state.config
    if cluster:
        unknown = sorted(set(cluster) - {c.name for c in config.clusters})
        if unknown:
            raise typer.BadParameter(f"not a configured cluster: {', '.join(unknown)}")
        config = config.model_copy(
            update={"clusters": tuple(c for c in config.clusters if c.name in cluster)}
        )
    now = utcnow()
    engine = app_state.engine()
    try:
        with session_factory(engine)() as session:
            events = backtest(session, config, parse_moment(since, now), now)
    finally:
        engine.dispose()
    rows = [
        {
            "cluster": event.cluster,
            "kind": event.kind,
            "bucket": event.bucket_start,
            "stories": event.observed,
            "expected": round(event.expected, 2),
            "tail_probability": float(f"{event.tail_probability:.3g}"),
            "sources": event.sources,
        }
        for event in events
    ]
    columns = ["cluster", "kind", "bucket", "stories", "expected", "tail_probability", "sources"]
    output: Format | None = fmt  # type: ignore[assignment]
    print_rows(rows, columns, output, "What would have fired")
