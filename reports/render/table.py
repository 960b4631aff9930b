"""The report on a terminal: one line per cluster, with a sparkline of its stories."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from reports.report import TrendReport

BARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 60


def sparkline(values: Sequence[int], width: int = SPARK_WIDTH) -> str:
    """Bars scaled to the series' maximum; long series are summed into ``width`` bins."""
    if not values:
        return ""
    if len(values) > width:
        size = -(-len(values) // width)
        values = [sum(values[i : i + size]) for i in range(0, len(values), size)]
    top = max(values)
    if top == 0:
        return " " * len(values)
    return "".join(
        " " if v == 0 else BARS[min(len(BARS) - 1, v * len(BARS) // (top + 1))] for v in values
    )


def to_table(report: TrendReport) -> Table:
    period = report.period
    table = Table(
        title=(
            f"Stories per {period.by}, {period.since:%Y-%m-%d %H:%M} to "
            f"{period.until:%Y-%m-%d %H:%M} UTC"
        ),
        caption="share: the cluster's stories / all stories stored in its buckets",
    )
    for name, justify in (
        ("cluster", "left"),
        ("stories", "right"),
        ("articles", "right"),
        ("max sources", "right"),
        ("share", "right"),
        ("peak", "left"),
        ("trend", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for cluster in report.clusters:
        series = report.series(cluster)
        stories = [row.stories for row in series]
        total_stories = sum(stories)
        share = _share(report, cluster)
        peak = max(series, key=lambda row: row.stories) if series else None
        peak_text = (
            f"{peak.stories} at {peak.bucket:%Y-%m-%d %H:%M}" if peak and peak.stories else ""
        )
        table.add_row(
            Text(cluster),
            str(total_stories),
            str(sum(row.articles for row in series)),
            str(max((row.sources for row in series), default=0)),
            f"{share:.1%}",
            Text(peak_text),
            Text(sparkline(stories), style="cyan"),
        )
    return table


def _share(report: TrendReport, cluster: str) -> float:
    """Share over the whole period: stories / all stories, weighted by bucket."""
    rows = report.series(cluster)
    totals = [row.stories / row.share for row in rows if row.share > 0]
    return sum(row.stories for row in rows if row.share > 0) / sum(totals) if totals else 0.0
