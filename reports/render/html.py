"""A self-contained HTML report: one file, charts inline as base64 PNG, no scripts.

Everything that comes from the archive (titles, publishers, URLs, cluster names) goes
through ``esc``; a link is emitted only for an http(s) URL (``safe_href``), so a title
of ``<script>alert(1)</script>`` or a ``javascript:`` URL shows as text.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable
from urllib.parse import urlsplit

from reports.breakdowns import EpisodeSummary, Headline
from reports.render.chart import color, render_cluster_png, render_png
from reports.report import TrendReport

STYLE = """
:root { --ink:#1f2328; --muted:#667085; --line:#e5e7eb; --spike:#e4572e; --bg:#f6f7f9; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans Arabic",
  sans-serif; }
header { padding:28px 36px 12px; }
h1 { margin:0 0 4px; font-size:26px; }
h2 { margin:32px 36px 12px; font-size:19px; }
.muted { color:var(--muted); }
.grid { display:grid; grid-template-columns:repeat(auto-fill,minmax(420px,1fr)); gap:16px;
  padding:0 36px; }
.card { background:#fff; border:1px solid var(--line); border-radius:10px; padding:14px 16px; }
.card h3 { margin:0; font-size:17px; display:flex; align-items:center; gap:8px; }
.swatch { width:11px; height:11px; border-radius:3px; display:inline-block; }
.figures { display:flex; gap:18px; margin:6px 0 8px; font-size:13px; color:var(--muted); }
.figures b { color:var(--ink); font-size:16px; display:block; }
.card img, .overview img { width:100%; height:auto; display:block; }
.overview { margin:0 36px; background:#fff; border:1px solid var(--line); border-radius:10px;
  padding:12px; }
.cols { display:grid; grid-template-columns:1fr 1fr; gap:14px; font-size:13px; }
.cols h4 { margin:8px 0 4px; font-size:12px; text-transform:uppercase; letter-spacing:.04em;
  color:var(--muted); }
ol, ul { margin:0; padding-left:18px; }
.bar { height:6px; background:#d0d5dd; border-radius:3px; margin:1px 0 5px; }
.bar span { display:block; height:6px; border-radius:3px; }
.episode { background:#fff; border:1px solid var(--line); border-left:4px solid var(--spike);
  border-radius:8px; padding:12px 16px; margin:0 36px 12px; }
.episode h3 { margin:0 0 4px; font-size:16px; }
.episode li { margin:3px 0; }
.copies { color:var(--muted); font-size:12.5px; }
table { border-collapse:collapse; margin:0 36px; background:#fff; font-size:14px; }
td, th { border:1px solid var(--line); padding:6px 12px; text-align:left; }
td.n { text-align:right; font-variant-numeric:tabular-nums; }
footer { padding:24px 36px 40px; font-size:12px; color:var(--muted); }
[dir=auto] { unicode-bidi:plaintext; }
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def safe_href(url: str) -> str | None:
    """The URL if it is http(s) with a host, else None (no link is made)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def link(text: str, url: str) -> str:
    href = safe_href(url)
    label = f'<span dir="auto">{esc(text or url)}</span>'
    if href is None:
        return label
    return f'<a href="{esc(href)}" rel="noopener noreferrer nofollow">{label}</a>'


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def render_html(report: TrendReport) -> str:
    period = report.period
    title = f"mediawatch trends, {period.since:%Y-%m-%d} to {period.until:%Y-%m-%d}"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
        f"<header><h1>{esc(title)}</h1><div class='muted'>Stories per {esc(period.by)} "
        f"by cluster, {len(report.clusters)} clusters, times in UTC. A story is counted once "
        "however many outlets carried it; <i>share</i> is the cluster's stories out of all "
        f"stories stored. Generated {report.generated_at:%Y-%m-%d %H:%M} UTC.</div></header>",
        f"<div class='overview'>{_img(render_png(report), 'stories per cluster')}</div>",
        "<h2>Clusters</h2><div class='grid'>",
        *(_card(report, index, cluster) for index, cluster in enumerate(report.clusters)),
        "</div>",
        _episodes(report.episodes),
        _co_occurrence(report),
        "<footer>mediawatch · titles and publishers are shown as scraped, as text.</footer>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _card(report: TrendReport, index: int, cluster: str) -> str:
    rows = report.series(cluster)
    stories, articles = report.totals(cluster)
    sources = max((row.sources for row in rows), default=0)
    shares = [row.share for row in rows if row.share > 0]
    share = sum(shares) / len(shares) if shares else 0.0
    episodes = sum(1 for e in report.episodes if e.cluster == cluster)
    figures = "".join(
        f"<div><b>{esc(value)}</b>{esc(label)}</div>"
        for value, label in (
            (f"{stories:,}", "stories"),
            (f"{articles:,}", "articles"),
            (sources, f"max sources / {report.period.by}"),
            (f"{share:.1%}", "avg share"),
            (episodes, "spike episodes"),
        )
    )
    sources_list = _bars(
        ((s.publisher, s.articles) for s in report.top_sources.get(cluster, [])[:6]), color(index)
    )
    languages = _bars(
        ((lang.language, lang.articles) for lang in report.languages.get(cluster, [])),
        color(index),
    )
    return (
        f"<section class='card'><h3><span class='swatch' style='background:{color(index)}'>"
        f"</span><span dir='auto'>{esc(cluster)}</span></h3>"
        f"<div class='figures'>{figures}</div>"
        f"{_img(render_cluster_png(report, cluster), f'stories per bucket: {cluster}')}"
        f"<div class='cols'><div><h4>Top sources (articles)</h4>{sources_list}</div>"
        f"<div><h4>Languages (articles)</h4>{languages}</div></div></section>"
    )


def _bars(items: Iterable[tuple[str, int]], tint: str) -> str:
    entries = list(items)
    if not entries:
        return "<span class='muted'>none</span>"
    top = max(count for _, count in entries) or 1
    return "".join(
        f"<div><span dir='auto'>{esc(name)}</span> <span class='muted'>{count:,}</span>"
        f"<div class='bar'><span style='width:{100 * count / top:.0f}%;background:{tint}'>"
        "</span></div></div>"
        for name, count in entries
    )


def _episodes(episodes: tuple[EpisodeSummary, ...]) -> str:
    if not episodes:
        return (
            "<h2>Spike episodes</h2><p class='muted' style='margin:0 36px'>None in this period.</p>"
        )
    blocks = []
    for episode in episodes:
        state = (
            "open"
            if episode.status == "open"
            else f"closed, last bucket {episode.last_bucket:%Y-%m-%d %H:%M}"
        )
        blocks.append(
            f"<div class='episode'><h3><span dir='auto'>{esc(episode.cluster)}</span> · "
            f"{episode.onset:%Y-%m-%d %H:%M} UTC</h3>"
            f"<div class='muted'>{episode.observed} stories vs {episode.expected:.1f} expected, "
            f"peak {episode.peak_count}, {episode.sources} sources · {esc(state)}</div>"
            f"<ol>{''.join(_headline(h) for h in episode.headlines)}</ol></div>"
        )
    return "<h2>Spike episodes</h2>" + "".join(blocks)


def _headline(headline: Headline) -> str:
    others = [p for p in headline.publishers if p != headline.publisher]
    carried = f", also {esc(', '.join(others[:5]))}" if others else ""
    more = f" and {len(others) - 5} more" if len(others) > 5 else ""
    return (
        f"<li>{link(headline.title, headline.url)} "
        f"<span class='copies'>— {esc(headline.publisher)}, {headline.seen_at:%Y-%m-%d %H:%M}"
        f"{carried}{more} · {headline.copies} article(s)</span></li>"
    )


def _co_occurrence(report: TrendReport) -> str:
    pairs = report.co_occurrence[:15]
    if not pairs:
        return (
            "<h2>Clusters reported together</h2>"
            "<p class='muted' style='margin:0 36px'>No story counted for two clusters.</p>"
        )
    rows = "".join(
        f"<tr><td dir='auto'>{esc(pair.first)}</td><td dir='auto'>{esc(pair.second)}</td>"
        f"<td class='n'>{pair.stories:,}</td></tr>"
        for pair in pairs
    )
    return (
        "<h2>Clusters reported together</h2><table><tr><th>cluster</th><th>cluster</th>"
        f"<th>stories mentioning both</th></tr>{rows}</table>"
    )
