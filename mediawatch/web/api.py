"""``/api/v1``: the archive as JSON, in the shapes of the CLI's ``--format json``.

Each endpoint calls what the matching command calls (``report``, ``search``, ``alerts list``,
``sources status``) and answers its rows. Bad input is the caller's to fix: a
``MediawatchError`` or a validation error becomes ``{"error": ...}`` with a 4xx (``app.py``),
never a 500. Text parameters may not hold NUL (no database stores it)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from alerts.listing import EPISODE_COLUMNS, episode_rows
from archive.search import SearchFilters, cluster_rules
from archive.search import search as run_search
from archive.search_index import sync_search_index
from archive.search_rows import hit_row
from archive.stories import article_with_story
from clock.periods import check_bucket_count, parse_moment
from errors import ConfigError
from mediawatch.web import api_models as shapes
from mediawatch.web.desk import Desk, desk, session
from mediawatch.web.source_kinds import telegram_channel
from reports.activity import recent_activity
from reports.buckets import WIDTH
from reports.report import build_report
from reports.trends import Period
from storage.models import Article
from storage.queries import list_sources
from storage.source_health import SOURCE_COLUMNS, source_health_rows

logger = logging.getLogger(__name__)

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": shapes.ApiError, "description": meaning}
    for status, meaning in (
        (400, "Bad input: a query, a date or a period that cannot be used"),
        (401, "No or a wrong access token"),
        (404, "No such cluster or article"),
        (422, "A parameter of the wrong type or out of range"),
    )
}
router = APIRouter(prefix="/api/v1", tags=["api"], responses=ERRORS)

MAX_LIMIT = 100
MAX_OFFSET = 10_000
DeskDep = Annotated[Desk, Depends(desk)]
SessionDep = Annotated[Session, Depends(session)]
Clusters = Annotated[
    list[str] | None, Query(description="Only this cluster (repeatable)", max_length=100)
]


@router.get("/clusters", response_model=list[shapes.ClusterGlance])
def clusters(the_desk: DeskDep, db: SessionDep) -> list[dict[str, Any]]:
    """Every cluster of the watch-list: stories in the last 24 h against usual, open episode."""
    configured = the_desk.config.clusters
    activity = recent_activity(db, [c.name for c in configured], the_desk.now())
    return [
        {
            "name": cluster.name,
            "description": cluster.description,
            "stories_24h": seen.last_day,
            "usual": round(seen.usual, 3),
            "open_episode": seen.open_episodes[0] if seen.open_episodes else None,
            "open_episodes": list(seen.open_episodes),
        }
        for cluster, seen in zip(configured, activity, strict=True)
    ]


@router.get("/trends", response_model=list[shapes.TrendRow])
def trends(
    the_desk: DeskDep,
    db: SessionDep,
    by: Literal["hour", "day", "week"] = "day",
    since: Annotated[str, Query(description="A duration back from now (30d) or a date")] = "30d",
    until: Annotated[str | None, Query(description="End (exclusive); default now")] = None,
    cluster: Clusters = None,
) -> list[dict[str, object]]:
    """Stories, articles and sources per cluster per bucket (``report --format json``)."""
    now = the_desk.now()
    start = parse_moment(_text(since, "since"), now)
    end = parse_moment(_text(until, "until"), now) if until else now
    if end <= start:
        raise ConfigError("until must be after since")
    check_bucket_count(start, end, WIDTH[by], "narrow since/until or use a wider by")
    chosen = _known_clusters(the_desk, cluster) or [c.name for c in the_desk.config.clusters]
    trend = build_report(db, Period(start, end, by), chosen, now)
    return [row.as_dict() for row in trend.rows]


@router.get("/search", response_model=list[shapes.SearchHit])
def search(
    the_desk: DeskDep,
    db: SessionDep,
    q: Annotated[str, Query(description='A query: "a phrase" AND/OR/NOT word NEAR/5 @Cluster')],
    since: Annotated[str | None, Query(description="Only articles seen since")] = None,
    until: Annotated[str | None, Query(description="Only articles seen before")] = None,
    source: Annotated[list[str] | None, Query(description="Source name or publisher")] = None,
    language: Annotated[list[str] | None, Query(description="Language code, e.g. ar")] = None,
    cluster: Clusters = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[dict[str, object]]:
    """Full-text search, newest first (``search --format json``), a page at a time."""
    now = the_desk.now()
    filters = SearchFilters(
        since=parse_moment(_text(since, "since"), now) if since else None,
        until=parse_moment(_text(until, "until"), now) if until else None,
        sources=tuple(_text(s, "source") for s in source or ()),
        languages=tuple(_text(code, "language") for code in language or ()),
        clusters=tuple(_known_clusters(the_desk, cluster)),
        limit=offset + limit,
    )
    config = the_desk.config
    _sync_index(the_desk)
    result = run_search(
        db, _text(q, "q"), config.watchlist(), cluster_rules(config.clusters), filters
    )
    return [hit_row(hit) for hit in result.hits[offset:]]


@router.get("/episodes", response_model=list[shapes.Episode])
def episodes(
    the_desk: DeskDep,
    db: SessionDep,
    since: Annotated[str, Query(description="A duration (7d, 12h) or a date")] = "7d",
) -> list[dict[str, Any]]:
    """Alert episodes opened since a time, newest first (``alerts list --format json``)."""
    now = the_desk.now()
    rows, _ = episode_rows(db, parse_moment(_text(since, "since"), now), now)
    return [_json_row(row, EPISODE_COLUMNS) for row in rows]


@router.get("/sources", response_model=list[shapes.SourceHealth])
def sources(the_desk: DeskDep, db: SessionDep) -> list[dict[str, Any]]:
    """Each source's health (``sources status --format json``), with its kind and, for a
    telegram source, its channel's address."""
    stored = {source.name: source for source in list_sources(db)}
    rows = []
    for row in source_health_rows(db, the_desk.now()):
        source = stored[row["name"]]
        channel = telegram_channel(source.kind, source.url)
        rows.append(
            {
                **_json_row(row, SOURCE_COLUMNS),
                "kind": source.kind,
                "channel": channel[1] if channel else None,
            }
        )
    return rows


@router.get("/articles/{article_id}", response_model=shapes.ArticleDetail)
def article(db: SessionDep, article_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> dict[str, Any]:
    """One article with the other copies of its story and its mentions."""
    view = article_with_story(db, article_id)
    if view is None:
        raise HTTPException(404, f"no article {article_id}")
    found = view.article
    return {
        **_copy(found),
        "author": found.author,
        "published_at": _iso(found.published_at),
        "summary": found.summary,
        "text": found.text,
        "story_id": found.story_id or found.id,
        "duplicate_of": found.duplicate_of_id,
        "copies": [_copy(copy) for copy in view.copies],
        "mentions": [{"cluster": m.cluster, "term": m.term, "hits": m.hits} for m in view.mentions],
    }


def _text(value: str, name: str) -> str:
    if "\x00" in value:
        raise ConfigError(f"{name} contains a NUL character")
    return value


def _known_clusters(the_desk: Desk, chosen: list[str] | None) -> list[str]:
    """``chosen`` without repeats; 404 naming the watch-list when one is unknown."""
    names = [c.name for c in the_desk.config.clusters]
    wanted = list(dict.fromkeys(chosen or ()))
    unknown = [name for name in wanted if name not in names]
    if unknown:
        raise HTTPException(
            404, f"unknown cluster {unknown[0]!r}; the watch-list has: {', '.join(names)}"
        )
    return wanted


def _sync_index(the_desk: Desk) -> None:
    """Index what the service stored since the last search, as ``mediawatch search`` does.
    A busy database (the service writing) only means the newest articles wait."""
    try:
        sync_search_index(the_desk.sessions)
    except OperationalError as exc:
        logger.warning("search index not brought up to date: %s", str(exc).splitlines()[0])


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _json_row(row: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    """The row as ``print_rows`` writes JSON: these columns, times as ISO strings."""
    return {c: _iso(row[c]) if isinstance(row[c], datetime) else row[c] for c in columns}


def _copy(found: Article) -> dict[str, Any]:
    return {
        "id": found.id,
        "url": found.url,
        "title": found.title,
        "publisher": found.publisher,
        "source": found.source.name if found.source else None,
        "language": found.language,
        "seen_at": found.seen_at.isoformat(),
    }
