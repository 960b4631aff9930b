"""``detect``: the spike detector over a CSV series, or over the archive once."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from errors import ConfigError
from mediawatch.cli.app import app, state
from mediawatch.cli.output import RowFormat, TableOrJson, print_rows

if TYPE_CHECKING:
    from config.detection import DetectionConfig
    from config.models import Config

logger = logging.getLogger(__name__)


@app.command("detect")
def detect(
    ctx: typer.Context,
    series: Annotated[
        Path | None,
        typer.Option(
            "--series",
            help="CSV with a header row, then timestamp,count rows ('-' for stdin)",
        ),
    ] = None,
    fmt: Annotated[
        TableOrJson, typer.Option("--format", help="table (default) or json")
    ] = TableOrJson.TABLE,
    threshold: Annotated[
        float | None,
        typer.Option(help="Expert override: per-bucket tail probability of a spike"),
    ] = None,
    false_alarms: Annotated[
        str | None,
        typer.Option(
            "--false-alarms",
            help="Expected false onsets, like 1/2w (default: [detection] false_alarms)",
        ),
    ] = None,
    min_count: Annotated[
        int | None, typer.Option(help="Smallest count that can be a spike (default 5)")
    ] = None,
    updates: Annotated[
        bool,
        typer.Option(
            "--updates",
            help="Also the updates the service would send (a kind column: open or update)",
        ),
    ] = False,
) -> None:
    """Run the spike detector over a CSV series, or over the archive once.

    With --series, prints one row per episode onset (what the service would have sent):
    timestamp, count, expected count, score (-log10 of the calibrated tail probability: 3
    means a one-in-a-thousand bucket) and how often such a bucket comes by chance; with
    --updates, also each episode's update (a spike doubling its opening count), with a
    kind column (open or update). The bucket width is the median gap between
    timestamps; missing buckets count 0. Works
    without a config file (the [detection] defaults). Without --series, judges the
    archive now and queues alerts, as the service's detect job does.

    Example: mediawatch detect --series mentions.csv --false-alarms 1/4w --format json
    """
    if threshold is not None and not 0 < threshold < 1:
        raise typer.BadParameter("must be between 0 and 1", param_hint="--threshold")
    if min_count is not None and min_count < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--min-count")
    app_state = state(ctx)
    if series is None:
        given = [
            name
            for name, value in (
                ("--threshold", threshold),
                ("--false-alarms", false_alarms),
                ("--min-count", min_count),
                ("--updates", updates or None),
            )
            if value is not None
        ]
        if given:
            # The archive pass takes its rules from [detection]: a series-only option
            # must not be silently dropped from a run that queues real alerts.
            raise typer.BadParameter(
                f"{', '.join(given)} only apply with --series", param_hint="--series"
            )
        _detect_archive(ctx, fmt)
        return
    from alerts.series import SeriesError, find_onsets, infer_bucket, read_series
    from alerts.spikes import SpikeParams
    from alerts.verdicts import policy_from_config
    from alerts.wording import how_often
    from config.detection import parse_alarm_rate

    detection = _detection_config(app_state.config_path)
    changes: dict[str, object] = {}
    if threshold is not None:
        changes["threshold"] = threshold
    if false_alarms is not None:
        try:
            changes["false_alarms"] = parse_alarm_rate(false_alarms)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--false-alarms") from None
        changes.setdefault("threshold", None)
    if min_count is not None:
        changes["min_count"] = min_count
    if changes:
        changes.setdefault("quiet_threshold", None)
        detection = detection.model_copy(update=changes)
    try:
        if str(series) == "-":
            parsed = read_series(sys.stdin)
        else:
            with series.open(encoding="utf-8", newline="") as handle:
                parsed = read_series(handle)
    except OSError as exc:
        raise ConfigError(f"{series}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{series}: not UTF-8 text; save the CSV as UTF-8") from None
    except SeriesError as exc:
        raise ConfigError(f"{series}: {exc}") from None
    width = infer_bucket(parsed.times)
    params = SpikeParams.from_config(detection, bucket=width)
    policy = policy_from_config(detection, bucket=width)
    onsets = find_onsets(parsed, params, policy, bucket=width, updates=updates)
    columns = ["timestamp", "count", "expected", "score", "every"] + (["kind"] if updates else [])
    rows = [
        {
            "timestamp": onset.timestamp,
            "count": _number(onset.count),
            "expected": round(onset.expected, 3),
            "score": round(onset.score, 3),
            "every": how_often(onset.tail_probability, width),
        }
        | ({"kind": onset.kind} if updates else {})
        for onset in onsets
    ]
    print_rows(rows, columns, _row_format(fmt))


def _detection_config(explicit: Path | None) -> DetectionConfig:
    """The [detection] of the config when there is one; the defaults when there is none."""
    from config.detection import DetectionConfig
    from config.load import config_path, load_config

    if not config_path(explicit).exists():
        if explicit is not None:
            raise ConfigError(f"{explicit}: config file not found")
        return DetectionConfig()

    return load_config(explicit).detection


def _detect_archive(ctx: typer.Context, fmt: TableOrJson) -> None:
    from alerts.detect import run_detection
    from clock.moments import utcnow
    from storage.engine import session_factory, transaction

    app_state = state(ctx)
    config: Config = app_state.config
    engine = app_state.engine()
    try:
        with transaction(session_factory(engine)) as session:
            changes = run_detection(session, config, utcnow())
    finally:
        engine.dispose()
    rows = [
        {
            "cluster": change.cluster,
            "kind": change.kind,
            "bucket": change.bucket_start,
            "stories": change.observed,
            "expected": round(change.expected, 2),
            "sources": change.sources,
            "queued": change.queued,
        }
        for change in changes
    ]
    columns = ["cluster", "kind", "bucket", "stories", "expected", "sources", "queued"]
    print_rows(rows, columns, _row_format(fmt), "Episode changes")


def _row_format(fmt: TableOrJson) -> RowFormat:
    return RowFormat.JSON if fmt is TableOrJson.JSON else RowFormat.TABLE


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value
