"""The desk as one ASGI app: pages, API and feeds over one database, behind one set of rules."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from mediawatch.web import api, feeds, pages
from mediawatch.web.desk import Desk
from mediawatch.web.security import secure

STATIC = Path(__file__).parent / "static"


def create_app(desk: Desk) -> FastAPI:
    """The desk for ``desk``'s config and database (read-mostly; the service need not run)."""
    app = FastAPI(
        title=desk.config.web.title if desk.config.web else "mediawatch",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.desk = desk
    secure(app, desk)
    app.include_router(api.router)
    app.include_router(feeds.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
