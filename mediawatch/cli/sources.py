"""``sources list`` and ``sources status``."""

from __future__ import annotations

from datetime import timedelta

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
    from storage.queries import articles_per_source, list_sources

    engine = state(ctx).engine()
    now = utcnow()
    with session_factory(engine)() as session:
        per_source = articles_per_source(session, now - timedelta(days=7))
        rows = [
            {
                "name": source.name,
                "enabled": source.enabled,
                "healthy": source.healthy,
                "last_poll": source.last_polled_at,
                "result": source.last_status or "never polled",
                "http": source.last_http_status,
                "next_due": source.next_poll_at,
                "interval": format_duration(timedelta(seconds=source.interval_seconds)),
                "failures": source.consecutive_failures,
                "articles_per_day": round(per_source.get(source.id, 0) / 7, 1),
                "error": (source.last_error or "")[:120],
            }
            for source in list_sources(session)
        ]
    engine.dispose()
    columns = [
        "name",
        "healthy",
        "last_poll",
        "result",
        "http",
        "next_due",
        "interval",
        "failures",
        "articles_per_day",
        "error",
    ]
    print_rows(rows, columns, fmt, "Source health")
