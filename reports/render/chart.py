"""PNG charts: stories per bucket per cluster as small multiples sharing the time axis,
spike episodes shaded and their onsets marked. Matplotlib's ``Figure`` draws on the Agg
canvas directly: no pyplot, no global state, safe in a service."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import datetime

from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from reports.breakdowns import EpisodeSummary
from reports.buckets import WIDTH
from reports.report import TrendReport

PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
    "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
)  # fmt: skip
SPIKE = "#e4572e"
INK = "#2b2b2b"
GRID = "#e6e6e6"


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _style(axes: Axes) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        axes.spines[side].set_color("#9a9a9a")
    axes.grid(axis="y", color=GRID, linewidth=0.8)
    axes.set_axisbelow(True)
    axes.tick_params(colors="#555555", labelsize=8, length=3)
    axes.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))


def draw_series(
    axes: Axes,
    report: TrendReport,
    cluster: str,
    tint: str,
    episodes: Sequence[EpisodeSummary],
) -> None:
    """One cluster's stories per bucket on ``axes``, with its episodes."""
    rows = report.series(cluster)
    width = WIDTH[report.period.by]
    times = date2num([row.bucket + width / 2 for row in rows])
    stories = [row.stories for row in rows]
    axes.fill_between(times, stories, step=None, color=tint, alpha=0.12, linewidth=0)
    axes.plot(times, stories, color=tint, linewidth=1.4, solid_joinstyle="round")
    top = max(stories, default=0)
    for episode in episodes:
        start, end = episode.onset, max(episode.last_bucket, episode.onset) + width
        axes.axvspan(date2num(start), date2num(end), color=SPIKE, alpha=0.14, linewidth=0)
        axes.plot(
            [date2num(episode.onset + width / 2)],
            [max(top, 1) * 1.04],
            marker="v",
            color=SPIKE,
            markersize=5,
            clip_on=False,
        )
    axes.set_ylim(0, max(top, 1) * 1.12)
    axes.set_xlim(date2num(report.period.since), date2num(report.period.until))
    locator = AutoDateLocator(minticks=3, maxticks=7)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    _style(axes)


def _episodes_of(report: TrendReport, cluster: str) -> list[EpisodeSummary]:
    return [e for e in report.episodes if e.cluster == cluster]


def render_png(report: TrendReport, *, dpi: int = 130) -> bytes:
    """All clusters as small multiples (2-4 columns), one PNG."""
    count = max(1, len(report.clusters))
    columns = 1 if count == 1 else 2 if count <= 4 else 3 if count <= 12 else 4
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(4.2 * columns, 1.9 * rows + 1.0), dpi=dpi, facecolor="white")
    grid = figure.subplots(rows, columns, sharex=True, squeeze=False)
    for index, cluster in enumerate(report.clusters):
        axes = grid[index // columns][index % columns]
        draw_series(axes, report, cluster, color(index), _episodes_of(report, cluster))
        stories, _ = report.totals(cluster)
        axes.set_title(
            f"{cluster}  ·  {stories:,} stories", loc="left", fontsize=9.5, color=INK, pad=4
        )
        if index + columns >= count:  # nothing below: this panel carries the dates
            axes.xaxis.set_tick_params(labelbottom=True)
    for index in range(len(report.clusters), rows * columns):
        grid[index // columns][index % columns].set_visible(False)
    period = report.period
    height = figure.get_figheight()
    figure.text(
        0.01, 1 - 0.28 / height, f"Stories per {period.by} by cluster",
        fontsize=13, fontweight="bold", color=INK, va="center",
    )  # fmt: skip
    figure.text(
        0.01, 1 - 0.56 / height,
        f"{_day(period.since)} – {_day(period.until)} UTC · syndicated copies count once · "
        "▼ and shading: spike episodes",
        fontsize=8.5, color="#666666", va="center",
    )  # fmt: skip
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.72 / height), h_pad=1.2)
    return _png(figure)


def render_cluster_png(report: TrendReport, cluster: str, *, dpi: int = 110) -> bytes:
    """One cluster's chart, for an HTML card."""
    figure = Figure(figsize=(5.2, 1.9), dpi=dpi, facecolor="white")
    axes = figure.subplots()
    index = report.clusters.index(cluster) if cluster in report.clusters else 0
    draw_series(axes, report, cluster, color(index), _episodes_of(report, cluster))
    figure.tight_layout(pad=0.4)
    return _png(figure)


def _day(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}".removesuffix(" 00:00")


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()
