"""``/sources``: each source's kind, health, last poll, next due, its error in plain words
and its articles per day (the rows of ``mediawatch sources status``); a Telegram source
links its channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from clock.durations import format_duration
from mediawatch.web.desk import desk, session
from mediawatch.web.source_kinds import kind_words, telegram_channel
from mediawatch.web.views import render
from storage.models import Source
from storage.queries import articles_per_source, list_sources

router = APIRouter()

DAYS = 7
HTTP_WORDS = {
    304: "the site said nothing changed, though we had not asked that way",
    401: "the site wants a login",
    403: "the site refuses our crawler",
    404: "the address is gone (not found)",
    410: "the address is gone for good",
    429: "the site asks us to slow down",
}


def plain_words(source: Source) -> str:
    """What the last poll of ``source`` means, for someone who does not read HTTP codes."""
    status, code = source.last_status, source.last_http_status
    if status is None:
        return "not polled yet"
    if status == "ok":
        return "fine: new items read"
    if status == "not_modified":
        return "fine: nothing new since the last poll"
    if status == "partial":
        return f"read, but some items were left out: {source.last_error or 'no reason given'}"
    if code in HTTP_WORDS:
        said = HTTP_WORDS[code]
    elif code is not None and code >= 500:
        said = "the site had a failure of its own"
    elif code is not None and code >= 400:
        said = "the site refused the request"
    else:
        said = "the site could not be reached or read"
    detail = (source.last_error or "").strip()
    return f"{said}{f' (HTTP {code})' if code else ''}: {detail}" if detail else said


@dataclass(frozen=True)
class SourceRow:
    source: Source
    kind: str
    channel: tuple[str, str] | None
    """``("@NAME", URL)`` for a telegram source."""
    words: str
    articles_per_day: float
    interval: str
    overdue: bool


def source_rows(db: Session, now: datetime) -> list[SourceRow]:
    per_source = articles_per_source(db, now - timedelta(days=DAYS))
    return [
        SourceRow(
            source=source,
            kind=kind_words(source.kind),
            channel=telegram_channel(source.kind, source.url),
            words=plain_words(source),
            articles_per_day=round(per_source.get(source.id, 0) / DAYS, 1),
            interval=format_duration(timedelta(seconds=source.interval_seconds)),
            overdue=source.enabled and source.next_poll_at < now - timedelta(hours=1),
        )
        for source in list_sources(db)
    ]


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request, db: Annotated[Session, Depends(session)]) -> HTMLResponse:
    now = desk(request).now()
    return render(request, "sources.html", rows=source_rows(db, now), now=now, days=DAYS)
