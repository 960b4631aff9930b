"""``/``: every cluster at a glance (14 days as a sparkline, the last 24 h against usual),
clusters with an open episode first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy.orm import Session

from mediawatch.web.desk import desk, session
from mediawatch.web.sparkline import sparkline
from mediawatch.web.views import render
from reports.activity import recent_activity
from reports.trends import Period, cluster_trends

router = APIRouter()

DAYS = 14


@dataclass(frozen=True)
class Glance:
    """One cluster on the overview."""

    name: str
    description: str
    daily: tuple[int, ...]
    """Stories per day, the last ``DAYS`` days (today last, so far)."""
    last_day: int
    """Stories in the last 24 hours."""
    usual: float
    """Stories per 24 hours over the ``USUAL_DAYS`` days before that."""
    open_episodes: tuple[int, ...]
    chart: Markup

    @property
    def ratio(self) -> float | None:
        return self.last_day / self.usual if self.usual else None


def glances(session: Session, clusters: Sequence[tuple[str, str]], now: datetime) -> list[Glance]:
    """The overview's rows: open episodes first, then the busiest against usual."""
    names = [name for name, _ in clusters]
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    period = Period(today - timedelta(days=DAYS - 1), now, "day")
    daily: dict[str, list[int]] = {name: [] for name in names}
    for row in cluster_trends(session, period, names):
        daily[row.cluster].append(row.stories)
    activity = {a.cluster: a for a in recent_activity(session, names, now)}
    found = [
        Glance(
            name=name,
            description=description,
            daily=tuple(daily[name]),
            last_day=activity[name].last_day,
            usual=activity[name].usual,
            open_episodes=activity[name].open_episodes,
            chart=sparkline(daily[name], f"{name}: stories per day, last {DAYS} days"),
        )
        for name, description in clusters
    ]
    found.sort(key=lambda g: (not g.open_episodes, -(g.ratio or 0), -g.last_day, g.name))
    return found


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, db: Annotated[Session, Depends(session)]) -> HTMLResponse:
    the_desk = desk(request)
    now = the_desk.now()
    clusters = [(c.name, c.description) for c in the_desk.config.clusters]
    return render(request, "overview.html", glances=glances(db, clusters, now), now=now, days=DAYS)
