"""``/clusters/{name}``: one cluster's trend with its episodes, headlines with their copies,
sources, languages and neighbours; and the same report as CSV, JSON or PNG."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from archive.stories import story_articles
from clock.periods import check_bucket_count, parse_moment
from errors import ConfigError
from mediawatch.web.desk import Desk, desk, session
from mediawatch.web.sparkline import trend_chart
from mediawatch.web.views import render
from reports.breakdowns import Headline, partners, top_headlines
from reports.buckets import GRANULARITIES, WIDTH
from reports.report import TrendReport, build_report
from reports.trends import Period
from storage.models import Article

router = APIRouter()

DEFAULT_SINCE = {"hour": "7d", "day": "30d", "week": "180d"}
HEADLINES = 15


@dataclass(frozen=True)
class Story:
    """A headline and the copies other outlets carried (the first article excluded)."""

    headline: Headline
    language: str | None
    copies: tuple[Article, ...]


class PageError(Exception):
    """Bad input for a page: shown to the user with status 400 (or ``status``)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def period_of(by: str, since: str | None, until: str | None, now: datetime) -> Period:
    """The period the query string asks for, checked as ``mediawatch report`` checks it."""
    if by not in GRANULARITIES:
        raise PageError(f"by must be hour, day or week, not {by!r}")
    try:
        start = parse_moment(since or DEFAULT_SINCE[by], now)
        end = parse_moment(until, now) if until else now
        if end <= start:
            raise PageError("until must be after since")
        check_bucket_count(start, end, WIDTH[by], "narrow since/until or use a wider bucket")
    except ConfigError as exc:
        raise PageError(str(exc)) from None
    return Period(start, end, by)  # type: ignore[arg-type]


def cluster_report(the_desk: Desk, db: Session, name: str, period: Period) -> TrendReport:
    if name not in {c.name for c in the_desk.config.clusters}:
        raise PageError(f"no cluster {name!r} in the watch-list", status=404)
    return build_report(
        db,
        period,
        [name],
        the_desk.now(),
        detail=True,
        episode_bucket=the_desk.config.detection.bucket,
    )


def stories(db: Session, cluster: str, period: Period) -> list[Story]:
    """The top headlines of the period, one per story, each with its other copies (the
    whole story's, in or out of the period): two queries for the headlines, one for all
    their stories' articles."""
    headlines = top_headlines(db, cluster, period.since, period.until, HEADLINES)
    articles = story_articles(db, [headline.story for headline in headlines])
    found = []
    for headline in headlines:
        story = articles[headline.story]
        first = next((article for article in story if article.url == headline.url), None)
        if first is None:
            continue
        copies = tuple(article for article in story if article.id != first.id)
        found.append(Story(headline, first.language, copies))
    return found


def episode_spans(report: TrendReport, width: timedelta) -> list[tuple[int, int]]:
    """Each episode as the (first, last) bucket indexes of the chart it overlaps."""
    buckets = report.period.buckets
    spans = []
    for episode in report.episodes:
        end = episode.last_bucket + width
        step = _width(report)
        inside = [i for i, b in enumerate(buckets) if b < end and b + step > episode.onset]
        if inside:
            spans.append((inside[0], inside[-1]))
    return spans


def _width(report: TrendReport) -> timedelta:
    return WIDTH[report.period.by]


@router.get("/clusters/{name}", response_class=HTMLResponse)
def cluster_page(
    request: Request,
    db: Annotated[Session, Depends(session)],
    name: str,
    by: str = "day",
    since: str | None = None,
    until: str | None = None,
) -> HTMLResponse:
    the_desk = desk(request)
    try:
        period = period_of(by, since, until, the_desk.now())
        report = cluster_report(the_desk, db, name, period)
    except PageError as exc:
        return render(request, "error.html", exc.status, message=str(exc), heading=name)
    rows = report.series(name)
    buckets = [row.bucket for row in rows]
    spans = episode_spans(report, the_desk.config.detection.bucket)
    label = f"{name}: stories, articles and sources per {by}"
    chart = trend_chart(
        buckets,
        {
            "stories": [r.stories for r in rows],
            "articles": [r.articles for r in rows],
            "sources": [r.sources for r in rows],
        },
        spans,
        label=label,
    )
    share = trend_chart(
        buckets, {"share": [r.share for r in rows]}, spans,
        label=f"{name}: share of all stories per {by}", height=140, percent=True,
    )  # fmt: skip
    # The report is of this cluster alone: its partners are looked up among them all.
    neighbours = partners(db, period, name, [c.name for c in the_desk.config.clusters])
    stories_total, articles_total = report.totals(name)
    params = {"by": by, "since": since, "until": until}
    return render(
        request,
        "cluster.html",
        name=name,
        report=report,
        rows=rows,
        chart=chart,
        share_chart=share,
        stories=stories(db, name, period),
        sources=report.top_sources.get(name, []),
        languages=report.languages.get(name, []),
        neighbours=neighbours,
        totals=(stories_total, articles_total),
        params=params,
        by=by,
        since=since or DEFAULT_SINCE.get(by, ""),
        until=until or "",
    )


@router.get("/clusters/{name}/report.{fmt}")
def cluster_export(
    request: Request,
    db: Annotated[Session, Depends(session)],
    name: str,
    fmt: str,
    by: str = "day",
    since: str | None = None,
    until: str | None = None,
) -> Response:
    """What the page shows, as ``mediawatch report --cluster NAME --format csv|json|png``."""
    from reports.render.chart import render_png
    from reports.render.rows import to_csv, to_json

    the_desk = desk(request)
    try:
        if fmt not in ("csv", "json", "png"):
            raise PageError(f"no {fmt!r} export: csv, json or png", status=404)
        report = cluster_report(the_desk, db, name, period_of(by, since, until, the_desk.now()))
    except PageError as exc:
        return render(request, "error.html", exc.status, message=str(exc), heading=name)
    stem = f"mediawatch-{_slug(name)}-{report.generated_at:%Y%m%d-%H%M}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{stem}"'}
    if fmt == "png":
        return Response(render_png(report), media_type="image/png", headers=disposition)
    if fmt == "json":
        return Response(to_json(report), media_type="application/json", headers=disposition)
    return Response(to_csv(report), media_type="text/csv; charset=utf-8", headers=disposition)


def _slug(name: str) -> str:
    return (
        "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in name).strip("-") or "cluster"
    )


def story_copies(db: Session, article_id: int) -> tuple[Article | None, list[Article]]:
    """An article and every article of its story (itself included), oldest first."""
    article = db.get(Article, article_id)
    if article is None:
        return None, []
    story = article.story_id or article.id
    copies = db.scalars(
        select(Article)
        .where(or_(Article.story_id == story, Article.id == story))
        .order_by(Article.seen_at, Article.id)
    ).all()
    return article, list(copies)


@router.get("/stories/{article_id}", response_class=HTMLResponse)
def story_page(
    request: Request, article_id: int, db: Annotated[Session, Depends(session)]
) -> HTMLResponse:
    article, copies = story_copies(db, article_id)
    if article is None:
        return render(
            request, "error.html", 404, message=f"no article {article_id}", heading="Story"
        )
    publishers = db.scalar(
        select(func.count(func.distinct(Article.publisher))).where(
            Article.id.in_([copy.id for copy in copies])
        )
    )
    return render(request, "story.html", article=article, copies=copies, publishers=publishers)
