"""Charts as inline SVG built on the server: a page draws without JavaScript or images.

Numbers become coordinates; the only text (labels, titles) is escaped. Colours come from
CSS classes in ``static/desk.css``: the Content-Security-Policy allows no inline style.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from markupsafe import Markup, escape


def _points(values: Sequence[float], width: float, height: float, top: float) -> str:
    """Polyline points for ``values`` scaled into a ``width`` x ``height`` box."""
    if not values:
        return ""
    high = max(max(values), 1e-9)
    step = width / max(len(values) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{top + height - (value / high) * height:.1f}"
        for i, value in enumerate(values)
    )


def sparkline(values: Sequence[float], label: str, *, width: int = 140, height: int = 28) -> Markup:
    """A small line of ``values`` (oldest first), its last point dotted; ``label`` is the
    accessible name (and tooltip)."""
    points = _points(values, width - 4, height - 4, 2)
    last = points.rsplit(" ", 1)[-1] if points else ""
    dot = ""
    if last:
        x, y = last.split(",")
        dot = f'<circle class="spark-last" cx="{float(x) + 2:.1f}" cy="{y}" r="2"/>'
    return Markup(  # noqa: S704 - numbers and escaped labels only
        f'<svg class="sparkline" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>"
        f'<g transform="translate(2,0)"><polyline class="spark-line" points="{points}"/>{dot}</g>'
        "</svg>"
    )


def trend_chart(
    buckets: Sequence[datetime],
    series: Mapping[str, Sequence[float]],
    episodes: Sequence[tuple[int, int]] = (),
    *,
    label: str,
    width: int = 760,
    height: int = 240,
    percent: bool = False,
) -> Markup:
    """Lines of ``series`` (name -> one value per bucket, CSS class ``series-<name>``) over
    ``buckets``, with each episode's ``(first, last)`` bucket indexes shaded."""
    left, right, top, bottom = 44, 8, 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    count = len(buckets)
    step = plot_w / max(count - 1, 1)
    high = max((max(values) for values in series.values() if len(values)), default=0)
    parts = [
        f'<svg class="trend" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>'
    ]
    for first, last in episodes:
        x0 = left + max(first - 0.5, 0) * step
        x1 = left + min(last + 0.5, count - 1) * step
        parts.append(
            f'<rect class="episode" x="{x0:.1f}" y="{top}" width="{max(x1 - x0, 2):.1f}" '
            f'height="{plot_h}"><title>spike episode</title></rect>'
        )
    parts.append(
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/>'
    )
    top_label = f"{high:.0%}" if percent else f"{high:g}"
    parts.append(f'<text class="tick" x="{left - 4}" y="{top + 8}">{escape(top_label)}</text>')
    parts.append(f'<text class="tick" x="{left - 4}" y="{top + plot_h}">0</text>')
    for index in sorted({0, count // 2, count - 1} if count else set()):
        x = left + index * step
        # The first label starts at its bucket and the last ends at it: neither is clipped.
        edge = " tick-first" if index == 0 else " tick-last" if index == count - 1 else ""
        parts.append(
            f'<text class="tick tick-x{edge}" x="{x:.1f}" y="{height - 12}">'
            f"{escape(_tick(buckets[index], buckets))}</text>"
        )
    for name, values in series.items():
        points = _points(values, plot_w, plot_h, top) if high else ""
        shifted = " ".join(
            f"{float(x) + left:.1f},{y}" for x, y in (p.split(",") for p in points.split())
        )
        parts.append(f'<polyline class="series series-{escape(name)}" points="{shifted}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped labels only


def _tick(moment: datetime, buckets: Sequence[datetime]) -> str:
    hourly = len(buckets) > 1 and (buckets[1] - buckets[0]).total_seconds() < 86400
    return f"{moment:%m-%d %H:%M}" if hourly else f"{moment:%Y-%m-%d}"
