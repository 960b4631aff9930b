"""Serving the desk: on its own (``mediawatch web``) or beside the service (``mediawatch run``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

import uvicorn
from sqlalchemy import Engine

from config.models import Config
from config.web import WebConfig, is_loopback
from errors import ConfigError
from mediawatch.web.app import create_app
from mediawatch.web.desk import Desk

logger = logging.getLogger(__name__)


def access_token(web: WebConfig, environ: Mapping[str, str]) -> str | None:
    """The token every request must carry, or None on open loopback; ``ConfigError`` when
    the desk would be reachable from other machines without one."""
    if web.token_env:
        token = environ.get(web.token_env, "")
        if not token.strip():
            raise ConfigError(f"[web] token_env: ${web.token_env} is not set or empty")
        return token.strip()
    if not is_loopback(web.host):
        raise ConfigError(f"[web] listen = {web.listen!r} needs token_env (an access token)")
    return None


def desk_server(
    config: Config, engine: Engine, web: WebConfig, environ: Mapping[str, str]
) -> uvicorn.Server:
    """A uvicorn server for the desk; ``run()`` it, or ``start_beside`` the service."""
    desk = Desk(config=config, engine=engine, token=access_token(web, environ))
    settings = uvicorn.Config(
        create_app(desk),
        host=web.host,
        port=web.port,
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )
    return uvicorn.Server(settings)


def start_beside(server: uvicorn.Server) -> threading.Thread:
    """Serve in a daemon thread; uvicorn leaves signals to the main thread (the service).

    ``server.should_exit = True`` stops it."""
    thread = threading.Thread(target=server.run, name="desk", daemon=True)
    thread.start()
    return thread


def address(web: WebConfig) -> str:
    """The URL to open in a browser."""
    host = f"[{web.host}]" if ":" in web.host else web.host
    return f"http://{host}:{web.port}/"
