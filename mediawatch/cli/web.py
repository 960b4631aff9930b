"""``mediawatch web``: the analyst's desk (pages, API, feeds) in the foreground."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from mediawatch.cli.app import app, log_to_stdout, state


@app.command()
def web(
    ctx: typer.Context,
    listen: Annotated[
        str | None,
        typer.Option("--listen", help="host:port (default: [web] listen, else 127.0.0.1:8080)"),
    ] = None,
) -> None:
    """Serve the desk: the archive's pages, the JSON API under /api/v1 and Atom feeds.

    Reads the database directly; the service need not run. Loopback by default; any other
    address needs `[web] token_env` (the token every request must carry).

    Example: mediawatch --config config.toml web --listen 127.0.0.1:8080
    """
    from pydantic import ValidationError

    from config.web import WebConfig
    from mediawatch.web.serve import address, desk_server

    app_state = state(ctx)
    log_to_stdout(ctx)
    config = app_state.config
    settings = config.web or WebConfig()
    if listen is not None:
        try:
            settings = WebConfig.model_validate({**settings.model_dump(), "listen": listen})
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise typer.BadParameter(problem, param_hint="--listen") from None
    engine = app_state.engine()
    server = desk_server(config, engine, settings, os.environ)
    typer.echo(f"mediawatch desk: {address(settings)}", err=True)
    try:
        server.run()
    finally:
        engine.dispose()
