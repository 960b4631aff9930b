"""``alerts list``, ``alerts test`` and ``alerts deliver`` (``alerts backtest`` lives in
``backtest.py`` and registers itself on ``alerts_app``)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mediawatch.cli.app import app, state
from mediawatch.cli.output import Format, print_rows

alerts_app = typer.Typer(
    help="Spike alerts: what fired, how delivery went, and a test of every channel.",
    no_args_is_help=True,
)
app.add_typer(alerts_app, name="alerts")

FormatOption = Annotated[
    str | None, typer.Option("--format", help="table (default), json, csv or tsv")
]

LIST_COLUMNS = [
    "id",
    "cluster",
    "status",
    "opened_at",
    "closed_at",
    "observed",
    "expected",
    "peak",
    "sources",
    "delivery",
    "errors",
]


@alerts_app.command("list")
def list_alerts(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(help="a duration (7d, 12h) or a date")] = "7d",
    fmt: FormatOption = None,
) -> None:
    """Alert episodes opened since a time, and the delivery status of each channel.

    Example: mediawatch alerts list --since 30d --format json
    """
    from alerts.history import last_errors, recent_episodes
    from mediawatch.periods import parse_moment
    from storage.clock import utcnow
    from storage.engine import session_factory

    output = _format(fmt)
    start = parse_moment(since, utcnow())
    engine = state(ctx).engine()
    with session_factory(engine)() as session:
        rows = [
            {
                "id": item.episode.id,
                "cluster": item.episode.cluster,
                "status": item.episode.status,
                "opened_at": item.episode.opened_at,
                "closed_at": item.episode.closed_at,
                "observed": item.episode.observed,
                "expected": round(item.episode.expected, 2),
                "peak": item.episode.peak_count,
                "sources": item.episode.sources,
                "delivery": item.delivery,
                "errors": last_errors(item.messages)[:200],
            }
            for item in recent_episodes(session, start)
        ]
    engine.dispose()
    print_rows(rows, LIST_COLUMNS, output, f"Alerts since {start:%Y-%m-%d %H:%M} UTC")


@alerts_app.command("test")
def test_channels(
    ctx: typer.Context,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help="only this channel (repeatable)")
    ] = None,
) -> None:
    """Send one test message through every configured channel, directly (not through
    the outbox), and report OK or FAILED with the reason for each; exit 1 if any failed.

    Example: SMTP_PASSWORD=... mediawatch alerts test
    """
    from alerts.channels import build_channels
    from alerts.render import make_test_alert
    from mediawatch.errors import DeliveryError
    from storage.clock import utcnow

    config = state(ctx).config
    channels = build_channels(config.alerts)
    if channel:
        unknown = sorted(set(channel) - set(channels))
        if unknown:
            raise typer.BadParameter(
                f"no such channel: {', '.join(unknown)} (configured: {', '.join(channels)})",
                param_hint="--channel",
            )
        channels = {name: channels[name] for name in channel}
    if not channels:
        print(
            "no alert channels configured: add [[alerts.channels]] to the config", file=sys.stderr
        )
        raise typer.Exit(1)
    now = utcnow()
    alert = make_test_alert(now)
    failed = 0
    for name, target in channels.items():
        try:
            target.send(alert, f"test:{now:%Y%m%dT%H%M%S}:{name}")
        except DeliveryError as exc:
            failed += 1
            print(f"{name}: FAILED: {exc}")
        except Exception as exc:  # a channel bug: its message may quote a secret
            failed += 1
            print(f"{name}: FAILED: unexpected {type(exc).__name__}")
        else:
            print(f"{name}: OK")
    if failed:
        raise typer.Exit(1)


@alerts_app.command("deliver")
def deliver(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="at most this many messages per channel")] = 50,
) -> None:
    """Run one delivery pass over the outbox (the service does this every 30 seconds);
    failed messages stay queued with a later retry time.

    Example: mediawatch alerts deliver
    """
    from alerts.channels import build_channels
    from alerts.outbox import deliver_due
    from storage.clock import utcnow
    from storage.engine import session_factory

    config = state(ctx).config
    engine = state(ctx).engine()
    try:
        report = deliver_due(
            session_factory(engine), build_channels(config.alerts), utcnow(), limit=limit
        )
    finally:
        engine.dispose()
    print(f"outbox: {report}")
    for name, error in report.errors.items():
        print(f"  {name}: {error}")


def _format(fmt: str | None) -> Format | None:
    if fmt not in (None, "table", "json", "csv", "tsv"):
        raise typer.BadParameter(f"unknown format {fmt!r}", param_hint="--format")
    return fmt  # type: ignore[return-value]
