"""The desk as one ASGI app: pages, API and feeds over one database, behind one set of rules.

Errors are translated here, once: a ``MediawatchError`` is the caller's bad input (400; a
``StorageError`` is the database's, 503), a validation error 422, an ``HTTPException`` its
own status; JSON ``{"error": ...}`` under /api and /feeds, a short page elsewhere."""

from __future__ import annotations

import html
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from errors import MediawatchError, StorageError
from mediawatch.web import api, feeds, pages
from mediawatch.web.desk import Desk
from mediawatch.web.security import secure

logger = logging.getLogger(__name__)

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
    app.add_exception_handler(MediawatchError, _mediawatch_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.include_router(api.router)
    app.include_router(feeds.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def error_response(request: Request, status: int, message: str) -> Response:
    """``{"error": message}`` for programs (/api, /feeds), a short page for people."""
    path = request.url.path
    if path.startswith(("/api/", "/feeds/")) or path in ("/api", "/feeds"):
        return JSONResponse({"error": message}, status_code=status)
    page = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>mediawatch</title>'
        '<link rel="stylesheet" href="/static/desk.css"></head><body><main>'
        f'<h1>{status}</h1><p class="error">{html.escape(message)}</p>'
        '<p><a href="/">Overview</a></p></main></body></html>\n'
    )
    return HTMLResponse(page, status_code=status)


async def _mediawatch_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, StorageError):
        logger.warning("desk: %s %s: %s", request.method, request.url.path, exc)
        return error_response(request, 503, str(exc))
    return error_response(request, 400, str(exc))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "query")
        problems.append(f"{where}: {error.get('msg', 'invalid')}" if where else error["msg"])
    return error_response(request, 422, "; ".join(problems) or "invalid request")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = error_response(request, exc.status_code, str(exc.detail))
    response.headers.update(exc.headers or {})
    return response
