"""``/watchlist``: the clusters with their terms and rules; pasted text run through
``match`` (what counts, and why a cluster was dropped); a draft rule backtested.

A draft's backtest is ``alerts backtest`` over mentions that exist only inside one
transaction: the draft is matched against the archive, its mentions inserted, the
detector replayed, and everything rolled back, so the database is left as it was.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy import insert
from sqlalchemy.orm import Session

from alerts.backtest import backtest
from alerts.verdicts import EXTRA_HISTORY, EpisodeEvent
from clock.periods import check_bucket_count, parse_moment
from config.models import ClusterConfig, Config
from errors import ConfigError, WatchlistError
from mediawatch.web.desk import desk
from mediawatch.web.views import form_fields, render
from storage.models import Mention
from storage.queries import iter_articles
from watchlist.matcher import Watchlist
from watchlist.mentions import mention_rows

router = APIRouter()

DRAFT_PREFIX = "draft: "
"""The draft's cluster name inside the transaction (never a configured cluster's)."""


def _lines(value: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in value.splitlines() if line.strip())


def draft_cluster(fields: dict[str, str]) -> ClusterConfig:
    """The cluster the draft form describes; ``ConfigError`` with the reason otherwise."""
    try:
        return ClusterConfig(
            name=DRAFT_PREFIX + (fields.get("name", "").strip() or "rule"),
            terms=_lines(fields.get("terms", "")),
            context=_lines(fields.get("context", "")),
            exclude=_lines(fields.get("exclude", "")),
            query=fields.get("query", "").strip() or None,
        )
    except (ValidationError, WatchlistError) as exc:
        errors = exc.errors() if isinstance(exc, ValidationError) else [{"msg": str(exc)}]
        raise ConfigError("; ".join(str(e["msg"]) for e in errors)) from None


def backtest_draft(
    db: Session, config: Config, draft: ClusterConfig, since: datetime, now: datetime
) -> list[EpisodeEvent]:
    """What ``draft`` would have opened and updated from ``since`` to ``now``; the session's
    transaction is rolled back (nothing is written)."""
    matcher = Watchlist((draft,))
    start = since - config.detection.history - EXTRA_HISTORY
    rows = [
        {
            "article_id": article.id,
            "cluster": cluster,
            "term": term,
            "hits": hits,
            "seen_at": article.seen_at,
            "story_id": article.story_id or article.id,
        }
        for article in iter_articles(db, since=start, until=now)
        for (cluster, term), hits in mention_rows(
            matcher, article.title, article.text, article.summary
        ).items()
    ]
    try:
        if rows:
            db.execute(insert(Mention), rows)
        return backtest(db, config.model_copy(update={"clusters": (draft,)}), since, now)
    finally:
        db.rollback()


def _page(request: Request, status: int = 200, **context: object) -> HTMLResponse:
    the_desk = desk(request)
    defaults: dict[str, object] = {
        "clusters": the_desk.config.clusters,
        "verdicts": None,
        "pasted": {"title": "", "text": ""},
        "draft": {"name": "", "terms": "", "context": "", "exclude": "", "query": "",
                  "since": "30d"},
        "events": None,
        "error": "",
        "draft_error": "",
    }  # fmt: skip
    defaults.update(context)
    return render(request, "watchlist.html", status, **defaults)


@router.get("/watchlist", response_class=HTMLResponse)
def watchlist_page(request: Request) -> HTMLResponse:
    return _page(request)


@router.post("/watchlist/match", response_class=HTMLResponse)
async def match_text(request: Request) -> HTMLResponse:
    """``mediawatch match``: every cluster the text touched, matched or dropped, and why."""
    fields = await form_fields(request)
    text, title = fields.get("text", ""), fields.get("title", "")
    verdicts = desk(request).config.watchlist().explain(text, title)
    verdicts.sort(key=lambda v: (not v.matched, v.status == "no term", v.name))
    return _page(request, verdicts=verdicts, pasted={"title": title, "text": text})


@router.post("/watchlist/backtest", response_class=HTMLResponse)
async def backtest_form(request: Request) -> HTMLResponse:
    """``alerts backtest`` for a rule that is not in config.toml yet."""
    the_desk = desk(request)
    fields = await form_fields(request)
    keys = ("name", "terms", "context", "exclude", "query", "since")
    shown = {key: fields.get(key, "") for key in keys}
    now = the_desk.now()
    try:
        draft = draft_cluster(fields)
        since = parse_moment(shown["since"].strip() or "30d", now)
        check_bucket_count(since, now, the_desk.config.detection.bucket, "choose a later since")
    except ConfigError as exc:
        return _page(request, 400, draft=shown, draft_error=str(exc))
    try:
        with the_desk.sessions() as db:
            events = backtest_draft(db, the_desk.config, draft, since, now)
    except WatchlistError as exc:
        return _page(request, 400, draft=shown, draft_error=str(exc))
    days = sorted({event.bucket_start.date() for event in events if event.kind == "open"})
    return _page(request, draft=shown, events=events, alert_days=days, since=since)
