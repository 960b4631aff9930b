"""Atom feeds for readers: a cluster's new stories, a saved search, the alerts.

Each answer is validated by its ETag (a hash of the document, so it changes whenever the
newest row or the query does) and its Last-Modified (the newest entry's ``updated``); a
reader that sends either back gets 304. The ``token`` a reader puts in the feed's URL
(the desk's security accepts it there) never appears in the document.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import URL

from alerts import wording
from alerts.detect import spike_alert
from alerts.history import EpisodeHistory, recent_episodes
from archive.search import SearchFilters, SearchHit, cluster_rules, search
from archive.search_index import sync_search_index
from clock.moments import aware, utc
from clock.periods import EARLIEST, parse_moment
from errors import ConfigError, WatchlistError
from mediawatch.web.atom import MEDIA_TYPE, AtomEntry, AtomFeed, Link, build_feed, stable_id
from mediawatch.web.desk import Desk, desk, session
from reports.new_stories import NewStory, newest_stories

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/feeds", include_in_schema=False)

DEFAULT_LIMIT, MAX_LIMIT = 50, 200

DeskDep = Annotated[Desk, Depends(desk)]
SessionDep = Annotated[Session, Depends(session)]


class ParameterError(ValueError):
    """A parameter the feed cannot use; its message is the answer's ``error``."""


@router.api_route("/clusters/{name:path}.atom", methods=["GET", "HEAD"])
def cluster_feed(name: str, request: Request, desk: DeskDep, db: SessionDep) -> Response:
    """The cluster's newest stories, one entry per story (copies folded into it)."""
    if name not in {cluster.name for cluster in desk.config.clusters}:
        return _error(404, f"no such cluster: {name!r}")
    try:
        limit = _limit(request)
    except ParameterError as exc:
        return _error(400, str(exc))
    page = _desk_url(str(request.base_url), f"clusters/{quote(name, safe='')}")
    stories = newest_stories(db, name, limit)
    feed = _feed(
        request,
        desk,
        key=("cluster", name),
        title=f"{name}: new stories",
        alternate=page,
        entries=tuple(_story_entry(story, name, page) for story in stories),
    )
    return _answer(request, feed)


@router.api_route("/search.atom", methods=["GET", "HEAD"])
def search_feed(request: Request, desk: DeskDep, db: SessionDep) -> Response:
    """A saved search: ``mediawatch search``'s query language and filters, newest first."""
    params = request.query_params
    query = params.get("q", "")
    try:
        if not query.strip():
            raise ParameterError('q is required: a query such as "Interior Ministry" AND Basra')
        now = desk.now()
        filters = SearchFilters(
            since=_moment(params.get("since"), now),
            until=_moment(params.get("until"), now),
            sources=_given(request, "source"),
            languages=_given(request, "language"),
            clusters=_given(request, "cluster"),
            limit=_limit(request),
        )
        sync_search_index(desk.sessions)
        result = search(
            db, query, desk.config.watchlist(), cluster_rules(desk.config.clusters), filters
        )
    except (ParameterError, ConfigError, WatchlistError) as exc:
        return _error(400, str(exc))
    shown = " ".join(query.split())
    page = _desk_url(str(request.base_url), f"search?{_without_token(request).query}")
    feed = _feed(
        request,
        desk,
        key=("search", *_sorted_params(request)),
        title=f"search: {shown}",
        alternate=page,
        entries=tuple(_hit_entry(hit, page) for hit in result.hits),
    )
    return _answer(request, feed)


@router.api_route("/alerts.atom", methods=["GET", "HEAD"])
def alerts_feed(request: Request, desk: DeskDep, db: SessionDep) -> Response:
    """Spike episodes opened since ``since`` (default 30d): what, when, how unusual."""
    try:
        since = _moment(request.query_params.get("since") or "30d", desk.now()) or EARLIEST
        limit = _limit(request)
    except (ParameterError, ConfigError) as exc:
        return _error(400, str(exc))
    base = str(request.base_url)
    histories = recent_episodes(db, since)[:limit]
    feed = _feed(
        request,
        desk,
        key=("alerts",),
        title="alerts",
        alternate=_desk_url(base, "alerts"),
        entries=tuple(_episode_entry(db, desk, item, base) for item in histories),
        language="en",
    )
    return _answer(request, feed)


# -- the entries ------------------------------------------------------------------------


def _story_entry(story: NewStory, cluster: str, page: str) -> AtomEntry:
    """``page`` is the link when the story's own URL is not a plain http(s) one."""
    summary = story.summary
    if len(story.publishers) > 1 or story.copies > 1:
        reach = f"{story.copies} articles from {len(story.publishers)} publishers: "
        summary = f"{summary}\n\n{reach}{', '.join(story.publishers)}".strip()
    return AtomEntry(
        id=stable_id("story", story.anchor_url),
        title=story.title,
        updated=story.last_seen,
        published=story.published_at or story.first_seen,
        link=wording.safe_url(story.url) or page,
        summary=summary,
        author=story.publisher,
        language=story.language,
        categories=(cluster,),
    )


def _hit_entry(hit: SearchHit, page: str) -> AtomEntry:
    return AtomEntry(
        id=stable_id("article", hit.url),
        title=hit.title,
        updated=hit.seen_at,
        published=hit.seen_at,
        link=wording.safe_url(hit.url) or page,
        summary=hit.snippet.text,
        author=hit.publisher,
        language=hit.language,
        categories=(hit.source,) if hit.source else (),
    )


def _episode_entry(db: Session, desk: Desk, item: EpisodeHistory, base: str) -> AtomEntry:
    """What the open alert said (``alerts.wording``), then how the episode went on."""
    row = item.episode
    width = desk.config.detection.bucket
    alert = spike_alert(
        db,
        "open",
        row.cluster,
        row.onset_bucket,
        width,
        observed=row.observed,
        expected=row.expected,
        tail_probability=row.tail_probability,
        sources=row.sources,
        episode_id=row.id,
    )
    lines = [wording.summary(alert), ""]
    lines += [f"{label}: {value}" for label, value in wording.facts(alert)]
    state = f"open, last active bucket {row.last_bucket:%Y-%m-%d %H:%M} UTC"
    if row.status == "closed" and row.closed_at is not None:
        state = f"closed {row.closed_at:%Y-%m-%d %H:%M} UTC"
    lines += [
        f"Opened: {row.opened_at:%Y-%m-%d %H:%M} UTC; {state}; peak {row.peak_count}",
        f"Delivery: {'muted: not alerted' if row.muted else item.delivery}",
    ]
    if row.feedback:
        lines.append(f"Marked: {row.feedback.replace('_', ' ')}")
    if alert.headlines:
        lines += ["", "Top stories:"]
        lines += [f"- {h.title} ({h.publisher}) {h.url}" for h in wording.headlines(alert)]
    moments = (row.opened_at, row.updated_at, row.closed_at, row.feedback_at)
    return AtomEntry(
        id=stable_id("episode", row.cluster, row.onset_bucket.isoformat()),
        title=wording.title(alert) + (" (closed)" if row.status == "closed" else ""),
        updated=max(moment for moment in moments if moment is not None),
        published=row.opened_at,
        link=_desk_url(base, f"clusters/{quote(row.cluster, safe='')}"),
        summary="\n".join(lines),
        categories=(row.cluster,),
    )


# -- the answer -------------------------------------------------------------------------


def _feed(
    request: Request,
    desk: Desk,
    *,
    key: tuple[str, ...],
    title: str,
    alternate: str,
    entries: tuple[AtomEntry, ...],
    language: str | None = None,
) -> AtomFeed:
    name = desk.config.web.title if desk.config.web else "mediawatch"
    return AtomFeed(
        id=stable_id("feed", str(request.base_url), *key),
        title=f"{name}: {title}",
        updated=max((entry.updated for entry in entries), default=EARLIEST),
        author=name,
        links=(
            Link(str(_without_token(request)), "self", MEDIA_TYPE),
            Link(alternate, "alternate", "text/html"),
        ),
        language=language,
        entries=entries,
    )


def _answer(request: Request, feed: AtomFeed) -> Response:
    """The document, or 304 when the reader's copy is current (RFC 9110 section 13)."""
    body = build_feed(feed)
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    modified = utc(feed.updated).replace(microsecond=0)
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(aware(modified), usegmt=True),
        "Cache-Control": "private, no-cache",
    }
    if is_current(
        request.headers.get("if-none-match"),
        request.headers.get("if-modified-since"),
        etag,
        modified,
    ):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=f"{MEDIA_TYPE}; charset=utf-8", headers=headers)


def is_current(
    if_none_match: str | None, if_modified_since: str | None, etag: str, modified: datetime
) -> bool:
    """Whether the reader's copy is current: its ETags, if it sent any (weak comparison),
    decide; else its date, if readable, against ``modified`` (naive UTC, whole seconds)."""
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag.removeprefix("W/") in tags
    if not if_modified_since:
        return False
    try:
        since = utc(parsedate_to_datetime(if_modified_since))
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    return modified <= since


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def _without_token(request: Request) -> URL:
    """The request's URL without the reader's token: what the document may show."""
    return request.url.remove_query_params("token")


def _desk_url(base: str, path: str) -> str:
    """A page of the desk, at the address the request reached it (``base``)."""
    return base.rstrip("/") + "/" + path


def _limit(request: Request) -> int:
    given = request.query_params.get("limit")
    if given is None:
        return DEFAULT_LIMIT
    if not (given.isascii() and given.isdigit()) or not 1 <= int(given) <= MAX_LIMIT:
        raise ParameterError(f"limit must be a whole number from 1 to {MAX_LIMIT}: got {given!r}")
    return int(given)


def _given(request: Request, name: str) -> tuple[str, ...]:
    """A repeatable filter's values; an empty one (``&source=``, from a form) filters nothing."""
    return tuple(value for value in request.query_params.getlist(name) if value.strip())


def _moment(value: str | None, now: datetime) -> datetime | None:
    return parse_moment(value, now) if value else None


def _sorted_params(request: Request) -> Sequence[str]:
    """The feed's parameters in a fixed order, the token left out: what names the search."""
    return [
        f"{name}={value}"
        for name, value in sorted(request.query_params.multi_items())
        if name != "token"
    ]
