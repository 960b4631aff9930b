"""``report``: stories, articles and sources per cluster per hour/day/week."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from clock.moments import utcnow
from clock.periods import check_bucket_count, parse_moment
from mediawatch.cli.app import app, state
from mediawatch.cli.output import ReportFormat

if TYPE_CHECKING:
    from reports.report import TrendReport

logger = logging.getLogger(__name__)


@app.command("report")
def report(
    ctx: typer.Context,
    by: Annotated[str, typer.Option("--by", help="Bucket: hour, day or week")] = "day",
    since: Annotated[
        str, typer.Option(help="Start: a duration back from now (30d) or a date")
    ] = "30d",
    until: Annotated[
        str | None, typer.Option(help="End (exclusive): duration or date; default now")
    ] = None,
    cluster: Annotated[
        list[str] | None, typer.Option("--cluster", help="Only this cluster (repeatable)")
    ] = None,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", help="table, csv, json, html or png")
    ] = ReportFormat.TABLE,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (png/html: default file name)"),
    ] = None,
) -> None:
    """Trend report: stories, articles and distinct sources per cluster per bucket.

    A story counts once however many outlets carried it; share is the cluster's stories
    out of all stories stored in the bucket. JSON and CSV give one row per cluster and
    bucket ({"cluster", "bucket", "articles", "stories", "sources", "share"}); html is a
    self-contained page with charts, spike episodes and their headlines, top sources,
    languages and co-occurrence; png is the chart alone.

    Example: mediawatch report --by day --since 30d --format html --output trends.html
    """
    from reports.buckets import GRANULARITIES, WIDTH
    from reports.report import build_report
    from reports.trends import Period
    from storage.engine import session_factory

    if by not in GRANULARITIES:
        raise typer.BadParameter("use hour, day or week", param_hint="--by")
    config = state(ctx).config
    now = utcnow()
    start = parse_moment(since, now)
    end = parse_moment(until, now) if until else now
    if end <= start:
        raise typer.BadParameter("--until must be after --since", param_hint="--until")
    check_bucket_count(start, end, WIDTH[by], "narrow --since/--until or use a wider --by")
    names = [c.name for c in config.clusters]
    chosen = list(dict.fromkeys(cluster)) if cluster else names
    unknown = [name for name in chosen if name not in names]
    if unknown:
        raise typer.BadParameter(
            f"unknown cluster {unknown[0]!r}; the watch-list has: {', '.join(names)}",
            param_hint="--cluster",
        )
    engine = state(ctx).engine()
    try:
        with session_factory(engine)() as session:
            trend = build_report(
                session,
                Period(start, end, by),  # type: ignore[arg-type]
                chosen,
                now,
                detail=fmt in _FILES,
                episode_bucket=config.detection.bucket,
            )
    finally:
        engine.dispose()
    _emit(trend, fmt, output)


_FILES = (ReportFormat.HTML, ReportFormat.PNG)
"""The formats written to a file (a default name when there is no --output)."""


def _emit(trend: TrendReport, fmt: ReportFormat, output: Path | None) -> None:
    from reports.render.chart import render_png
    from reports.render.html import render_html
    from reports.render.rows import to_csv, to_json
    from reports.render.table import to_table

    if fmt in _FILES:
        target = output or Path(f"mediawatch-report-{trend.generated_at:%Y%m%d-%H%M}.{fmt}")
        if fmt is ReportFormat.PNG:
            target.write_bytes(render_png(trend))
        else:
            target.write_text(render_html(trend), encoding="utf-8")
        print(f"report written to {target}", file=sys.stderr)
        return
    if fmt is ReportFormat.TABLE:
        console = Console(
            file=None if output is None else output.open("w", encoding="utf-8"),
            width=None if output is None and sys.stdout.isatty() else 150,
        )
        console.print(to_table(trend))
        if output is not None:
            console.file.close()
            print(f"report written to {output}", file=sys.stderr)
        return
    body = to_json(trend) if fmt is ReportFormat.JSON else to_csv(trend)
    if output is None:
        sys.stdout.write(body)
    else:
        output.write_text(body, encoding="utf-8")
        print(f"report written to {output}", file=sys.stderr)
