"""``alerts backtest``: what the detector would have fired on the archive."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from mediawatch.cli.alerts import alerts_app
from mediawatch.cli.app import state
from mediawatch.cli.output import RowFormat, RowFormatOption, print_rows

if TYPE_CHECKING:
    from alerts.feedback import Precision
    from config.models import Config


@alerts_app.command("backtest")
def backtest_command(
    ctx: typer.Context,
    since: Annotated[
        str, typer.Option(help="Start: a duration back from now (90d) or a date")
    ] = "90d",
    cluster: Annotated[
        list[str] | None, typer.Option("--cluster", help="Only this cluster (repeatable)")
    ] = None,
    fmt: RowFormatOption = None,
    precision: Annotated[
        bool,
        typer.Option(
            "--precision", help="List only the precision against your marks (any --format)"
        ),
    ] = False,
) -> None:
    """What would have fired on the archive, per cluster, without sending anything.

    Replays the detector and the episode rules (cooldown, one update) over the period
    as if detect had run after every bucket; opens and updates are listed, then the
    precision against your marks (`alerts mark ID --useful|--false-alarm`): of the
    marked episodes the replay opens, the share marked useful, per cluster and overall.

    Example: mediawatch alerts backtest --since 90d --precision
    """
    from alerts.backtest import backtest
    from alerts.feedback import marked_episodes
    from alerts.feedback import precision as precision_of
    from clock.moments import utcnow
    from clock.periods import check_bucket_count, parse_moment
    from storage.engine import session_factory

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
    start = parse_moment(since, now)
    check_bucket_count(start, now, config.detection.bucket, "choose a later --since")
    engine = app_state.engine()
    try:
        with session_factory(engine)() as session:
            events = backtest(session, config, start, now)
            marks = [m for m in marked_episodes(session) if m.cluster in _names(config)]
    finally:
        engine.dispose()
    opened = [(event.cluster, event.bucket_start) for event in events if event.kind == "open"]
    scores = precision_of(opened, marks, config.detection.bucket)
    if precision:
        _print_precision(scores, len(marks), fmt)
        return
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
    print_rows(rows, columns, fmt, "What would have fired")
    if fmt in (None, RowFormat.TABLE):
        print(precision_line(scores, len(marks)))


PRECISION_COLUMNS = ["cluster", "useful", "false_alarms", "marked", "precision"]


def precision_line(scores: list[Precision], marks: int) -> str:
    """The precision in one line: overall, then per cluster."""
    if not marks:
        return (
            "precision: no marked episodes yet; mark alerts with "
            "`mediawatch alerts mark ID --useful|--false-alarm`"
        )
    overall = scores[-1]
    if not overall.marked:
        return f"precision: none of the {marks} marked episode(s) would be opened by this replay"
    clusters = "; ".join(
        f"{score.cluster} {_share(score)}" for score in scores[:-1] if score.marked
    )
    return f"precision: {_share(overall)} overall ({clusters})"


def _share(score: Precision) -> str:
    return f"{score.share:.0%} ({score.useful} useful of {score.marked} marked)"


def _print_precision(scores: list[Precision], marks: int, fmt: RowFormat | None) -> None:
    if not marks and fmt in (None, RowFormat.TABLE):
        print(precision_line(scores, 0))
        return
    rows = [
        {
            "cluster": score.cluster,
            "useful": score.useful,
            "false_alarms": score.false_alarms,
            "marked": score.marked,
            "precision": None if score.share is None else round(score.share, 3),
        }
        for score in scores
    ]
    print_rows(rows, PRECISION_COLUMNS, fmt, "Precision against your marks")


def _names(config: Config) -> set[str]:
    return {item.name for item in config.clusters}
