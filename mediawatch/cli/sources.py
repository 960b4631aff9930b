"""``sources list`` and ``sources status``."""

from __future__ import annotations

import typer

from clock.durations import format_duration
from mediawatch.cli.app import app, state
from mediawatch.cli.output import RowFormatOption, print_rows

sources_app = typer.Typer(help="The configured sources and their health.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")


@sources_app.command("list")
def list_sources(ctx: typer.Context, fmt: RowFormatOption = None) -> None:
    """The sources configured in config.toml.

    Example: mediawatch sources list --format json
    """
    config = state(ctx).config
    rows = [
        {
            "name": source.name,
            "kind": source.kind,
            "url": source.url,
            "every": format_duration(source.every) if source.every else "",
            "enabled": source.enabled,
        }
        for source in config.sources
    ]
    print_rows(rows, ["name", "kind", "url", "every", "enabled"], fmt, "Sources")


@sources_app.command("status")
def status(ctx: typer.Context, fmt: RowFormatOption = None) -> None:
    """Health of each source: last poll, result, next due, failures, articles/day (7 days).

    Example: mediawatch sources status
    """
    from clock.moments import utcnow
    from storage.engine import session_factory
    from storage.source_health import SOURCE_COLUMNS, source_health_rows

    engine = state(ctx).engine()
    now = utcnow()
    with session_factory(engine)() as session:
        rows = source_health_rows(session, now)
    engine.dispose()
    print_rows(rows, SOURCE_COLUMNS, fmt, "Source health")
