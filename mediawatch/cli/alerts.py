"""``alerts list``, ``test``, ``deliver``, ``mute``, ``unmute`` and ``mark``
(``alerts backtest`` lives in ``backtest.py`` and registers itself on ``alerts_app``)."""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn

import typer

from mediawatch.cli.app import app, state
from mediawatch.cli.output import RowFormat, RowFormatOption, print_rows

alerts_app = typer.Typer(
    help="Spike alerts: what fired, how delivery went, a test of every channel, mutes and "
    "feedback.",
    no_args_is_help=True,
)
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("list")
def list_alerts(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(help="a duration (7d, 12h) or a date")] = "7d",
    fmt: RowFormatOption = None,
) -> None:
    """Alert episodes opened since a time, and the delivery status of each channel.

    Example: mediawatch alerts list --since 30d --format json
    """
    from alerts.listing import EPISODE_COLUMNS, episode_rows
    from clock.moments import utcnow
    from clock.periods import parse_moment
    from storage.engine import session_factory

    now = utcnow()
    start = parse_moment(since, now)
    engine = state(ctx).engine()
    with session_factory(engine)() as session:
        rows, mutes = episode_rows(session, start, now)
    engine.dispose()
    print_rows(rows, EPISODE_COLUMNS, fmt, f"Alerts since {start:%Y-%m-%d %H:%M} UTC")
    if fmt in (None, RowFormat.TABLE):
        for cluster, until in sorted(mutes.items()):
            print(f"muted: {cluster} until {until:%Y-%m-%d %H:%M} UTC")


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
    from alerts.message import make_test_alert
    from clock.moments import utcnow
    from errors import DeliveryError

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
    a message whose channel is out stays queued with a later retry time; one its channel
    refused (SMTP 5xx, a webhook's 4xx) a few times is given up on and listed as FAILED.
    Daily digests that are due are queued first.

    Example: mediawatch alerts deliver
    """
    from alerts.channels import build_channels
    from alerts.digest import queue_due_digests
    from alerts.outbox import deliver_due
    from clock.moments import utcnow
    from storage.engine import session_factory, transaction

    config = state(ctx).config
    engine = state(ctx).engine()
    now = utcnow()
    try:
        sessions = session_factory(engine)
        with transaction(sessions) as session:
            digests = queue_due_digests(session, config, now)
        report = deliver_due(sessions, build_channels(config.alerts), now, limit=limit)
    finally:
        engine.dispose()
    for digest in digests:
        print(f"queued the daily digest {digest.idempotency_key}")
    print(f"outbox: {report}")
    for name, error in report.errors.items():
        print(f"  {name}: {error}")
    for key, reason in report.failures.items():
        print(f"  FAILED {key} (given up; see `mediawatch alerts list`): {reason}")


@alerts_app.command("mute")
def mute_cluster(
    ctx: typer.Context,
    cluster: Annotated[str, typer.Argument(help="a configured cluster's name")],
    duration: Annotated[
        str, typer.Option("--for", help="how long: 30m, 24h, 7d (default 24h)")
    ] = "24h",
) -> None:
    """Stop alerts for a cluster for a while. Its spikes still open episodes, listed
    by `alerts list` as muted; no alert (nor digest entry) is sent for an episode that
    opened while muted, even after the mute ends: alerting resumes with the next one.

    Example: mediawatch alerts mute "Interior Ministry" --for 24h
    """
    from alerts.mutes import mute
    from clock.durations import parse_duration
    from clock.moments import utcnow
    from storage.engine import session_factory, transaction

    name = _configured_cluster(ctx, cluster)
    try:
        length = parse_duration(duration)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--for") from None
    now = utcnow()
    engine = state(ctx).engine()
    try:
        with transaction(session_factory(engine)) as session:
            until = mute(session, name, length, now)
    finally:
        engine.dispose()
    print(f"muted: {name} until {until:%Y-%m-%d %H:%M} UTC")


@alerts_app.command("unmute")
def unmute_cluster(
    ctx: typer.Context,
    cluster: Annotated[str, typer.Argument(help="a configured cluster's name")],
) -> None:
    """End a cluster's mute now: its next new episode is alerted again.

    Example: mediawatch alerts unmute "Interior Ministry"
    """
    from alerts.mutes import unmute
    from storage.engine import session_factory, transaction

    name = _configured_cluster(ctx, cluster)
    engine = state(ctx).engine()
    try:
        with transaction(session_factory(engine)) as session:
            was_muted = unmute(session, name)
    finally:
        engine.dispose()
    print(f"unmuted: {name}" if was_muted else f"{name} was not muted")


@alerts_app.command("mark")
def mark(
    ctx: typer.Context,
    episode_id: Annotated[int, typer.Argument(help="the id `alerts list` shows")],
    useful: Annotated[bool, typer.Option("--useful", help="it meant something")] = False,
    false_alarm: Annotated[bool, typer.Option("--false-alarm", help="it meant nothing")] = False,
) -> None:
    """Say whether an alert was worth it; `alerts backtest` reports the detector's
    precision against these marks. Marking again replaces the earlier mark.

    Example: mediawatch alerts mark 42 --false-alarm
    """
    from alerts.feedback import mark_episode
    from clock.moments import utcnow
    from storage.engine import session_factory, transaction

    if useful == false_alarm:
        _usage_error("give exactly one of --useful and --false-alarm")
    engine = state(ctx).engine()
    try:
        with transaction(session_factory(engine)) as session:
            found = mark_episode(
                session, episode_id, "useful" if useful else "false_alarm", utcnow()
            )
    finally:
        engine.dispose()
    if not found:
        _usage_error(f"no alert episode {episode_id} (see `mediawatch alerts list`)")
    print(f"episode {episode_id} marked {'useful' if useful else 'a false alarm'}")


def _configured_cluster(ctx: typer.Context, cluster: str) -> str:
    names = [item.name for item in state(ctx).config.clusters]
    if cluster not in names:
        _usage_error(
            f"no cluster {cluster!r} in the config (configured: {', '.join(names) or 'none'})"
        )
    return cluster


def _usage_error(message: str) -> NoReturn:
    print(f"mediawatch: error: {message}", file=sys.stderr)
    raise typer.Exit(2)
