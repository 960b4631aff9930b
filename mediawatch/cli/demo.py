"""``mediawatch demo``: the offline demo."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from mediawatch.cli.app import app


@app.command()
def demo(
    workdir: Annotated[
        Path | None, typer.Option(help="keep the demo's config, database and report here")
    ] = None,
    watchlist: Annotated[
        Path, typer.Option(help="take the clusters from this config (default ./config.toml)")
    ] = Path("config.toml"),
    smtp: Annotated[
        str | None,
        typer.Option(help="also email the alert to a local SMTP server, e.g. 127.0.0.1:8025"),
    ] = None,
) -> None:
    """Run the offline demo: a local newsroom, the real service, a spike, an alert.

    Needs no internet and finishes in about a minute. Two weeks of coverage are crawled,
    then a burst of reports about Iraq's Interior Ministry arrives; the alert is printed
    (emailed with --smtp, and posted to Slack when $SLACK_WEBHOOK_URL is set) and a trend
    report is written.

    Example: mediawatch demo --workdir demo --smtp 127.0.0.1:8025
    """
    from mediawatch.demo.run import run_demo

    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="mediawatch-demo-"))
    result = run_demo(workdir, watchlist=watchlist, smtp=smtp, say=typer.echo)
    typer.echo(
        f"\ndemo done in {result.seconds:.0f}s: {result.articles} articles stored, "
        f"{result.alerts_sent} alert message(s) delivered"
    )
    if result.report:
        typer.echo(f"trend report: {result.report}")
    typer.echo(
        f"config and database: {result.workdir}  (try: mediawatch --config "
        f"{result.workdir / 'config.toml'} alerts list)"
    )
