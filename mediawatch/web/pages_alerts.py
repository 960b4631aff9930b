"""``/alerts``: episodes with their explanation and deliveries, and the forms that mark,
mute, snooze and unmute (each the function ``mediawatch alerts mark|mute|unmute`` calls)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from alerts.feedback import mark_episode
from alerts.history import EpisodeHistory, recent_episodes
from alerts.message import Alert
from alerts.mutes import mute, muted_until, unmute
from alerts.wording import how_often, summary
from clock.durations import parse_duration
from clock.periods import parse_moment
from errors import ConfigError
from mediawatch.web.desk import Desk, desk, session
from mediawatch.web.views import form_fields, query_string, render
from storage.engine import transaction

router = APIRouter()

SNOOZES = (("1h", "1 hour"), ("24h", "a day"), ("7d", "a week"))


def explanation(item: EpisodeHistory, width: timedelta) -> str:
    """The sentence an alert of this episode opened with, and how rare it was."""
    episode = item.episode
    alert = Alert(
        kind="open",
        cluster=episode.cluster,
        bucket_start=episode.onset_bucket,
        bucket_end=episode.onset_bucket + width,
        observed=episode.observed,
        expected=episode.expected,
        tail_probability=episode.tail_probability,
        sources=episode.sources,
        episode_id=episode.id,
    )
    rarity = how_often(episode.tail_probability, width)
    return f"{summary(alert)} By chance, about once in {rarity}."


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request, db: Annotated[Session, Depends(session)], since: str = "30d", done: str = ""
) -> HTMLResponse:
    the_desk = desk(request)
    now = the_desk.now()
    try:
        start = parse_moment(since, now)
    except ConfigError as exc:
        return render(request, "error.html", 400, message=str(exc), heading="Alerts")
    width = the_desk.config.detection.bucket
    items = [
        {"item": item, "explanation": explanation(item, width)}
        for item in recent_episodes(db, start)
    ]
    return render(
        request,
        "alerts.html",
        items=items,
        mutes=sorted(muted_until(db, now).items()),
        clusters=[c.name for c in the_desk.config.clusters],
        snoozes=SNOOZES,
        since=since,
        start=start,
        done=done,
    )


def _back(message: str) -> RedirectResponse:
    return RedirectResponse("/alerts" + query_string(done=message), status_code=303)


def _refuse(request: Request, message: str, status: int = 400) -> HTMLResponse:
    return render(request, "error.html", status, message=message, heading="Alerts")


def _cluster(the_desk: Desk, fields: dict[str, str]) -> str | None:
    """The form's ``cluster`` if the config has it."""
    name = fields.get("cluster", "")
    return name if name in {c.name for c in the_desk.config.clusters} else None


def _no_cluster(request: Request, fields: dict[str, str]) -> Response:
    return _refuse(request, f"no cluster {fields.get('cluster', '')!r} in the config")


@router.post("/alerts/{episode_id}/mark")
async def mark(request: Request, episode_id: int) -> Response:
    """``alerts mark ID --useful|--false-alarm``."""
    the_desk = desk(request)
    verdict = (await form_fields(request)).get("mark", "")
    if verdict not in ("useful", "false_alarm"):
        return _refuse(request, "mark must be useful or false_alarm")
    with transaction(the_desk.sessions) as db:
        found = mark_episode(db, episode_id, verdict, the_desk.now())  # type: ignore[arg-type]
    if not found:
        return _refuse(request, f"no alert episode {episode_id}", 404)
    words = "useful" if verdict == "useful" else "a false alarm"
    return _back(f"episode {episode_id} marked {words}")


@router.post("/alerts/mute")
async def mute_form(request: Request) -> Response:
    """``alerts mute CLUSTER --for DURATION`` (a snooze is a mute with a short duration)."""
    the_desk = desk(request)
    fields = await form_fields(request)
    name = _cluster(the_desk, fields)
    if name is None:
        return _no_cluster(request, fields)
    try:
        length = parse_duration(fields.get("for", "24h") or "24h")
    except ValueError as exc:
        return _refuse(request, f"for: {exc}")
    try:
        with transaction(the_desk.sessions) as db:
            until = mute(db, name, length, the_desk.now())
    except OverflowError:
        return _refuse(request, "for: too long")
    return _back(f"muted: {name} until {until:%Y-%m-%d %H:%M} UTC")


@router.post("/alerts/unmute")
async def unmute_form(request: Request) -> Response:
    """``alerts unmute CLUSTER``."""
    the_desk = desk(request)
    fields = await form_fields(request)
    name = _cluster(the_desk, fields)
    if name is None:
        return _no_cluster(request, fields)
    with transaction(the_desk.sessions) as db:
        was_muted = unmute(db, name)
    return _back(f"unmuted: {name}" if was_muted else f"{name} was not muted")
