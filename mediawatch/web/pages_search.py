"""``/search``: the archive with the watch-list query language, as ``mediawatch search``
finds it (the same function, filters and order), a page at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from archive.search import SearchFilters, SearchResult, cluster_rules, search
from archive.search_index import sync_search_index
from clock.periods import parse_moment
from errors import ConfigError, WatchlistError
from mediawatch.web.desk import desk, session
from mediawatch.web.views import render, text_dir

router = APIRouter()

PAGE = 20
MAX_PAGE = 50


def _moment(value: str, now: datetime, name: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        return parse_moment(value.strip(), now)
    except ConfigError as exc:
        raise WatchlistError(f"{name}: {exc}") from None


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    db: Annotated[Session, Depends(session)],
    q: str = "",
    since: str = "",
    until: str = "",
    source: Annotated[list[str] | None, Query()] = None,
    language: Annotated[list[str] | None, Query()] = None,
    cluster: Annotated[list[str] | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> HTMLResponse:
    the_desk = desk(request)
    config = the_desk.config
    source = [s for s in source or () if s.strip()]
    language = [lang for lang in language or () if lang.strip()]
    cluster = [c for c in cluster or () if c.strip()]
    form = {
        "q": q, "since": since, "until": until, "source": source,
        "language": language, "cluster": cluster,
    }  # fmt: skip
    context: dict[str, Any] = {
        "form": form,
        "clusters": [c.name for c in config.clusters],
        "source_names": [s.name for s in config.sources],
        "page": page,
        "page_size": PAGE,
    }
    if not q.strip():
        return render(request, "search.html", result=None, hits=[], more=False, **context)
    now = the_desk.now()
    try:
        filters = SearchFilters(
            since=_moment(since, now, "since"),
            until=_moment(until, now, "until"),
            sources=tuple(source),
            languages=tuple(language),
            clusters=tuple(cluster),
            limit=page * PAGE + 1,
        )
        sync_search_index(the_desk.sessions)
        result: SearchResult = search(
            db, q, config.watchlist(), cluster_rules(config.clusters), filters
        )
    except WatchlistError as exc:
        return render(request, "search.html", 400, result=None, hits=[], more=False,
                      error=str(exc), **context)  # fmt: skip
    shown = result.hits[(page - 1) * PAGE : page * PAGE]
    hits = [
        {
            "hit": hit,
            "dir": text_dir(hit.language),
            "title": (hit.title or "(no title)", hit.title_marks if hit.title else ()),
            "snippet": (hit.snippet.text, hit.snippet.marks),
        }
        for hit in shown
    ]
    return render(
        request,
        "search.html",
        result=result,
        hits=hits,
        more=len(result.hits) > page * PAGE and page < MAX_PAGE,
        **context,
    )
