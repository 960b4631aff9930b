"""``mediawatch run``: the background service, in the foreground."""

from __future__ import annotations

import os
import signal

import typer

from mediawatch.cli.app import app, log_to_stdout, state


@app.command()
def run(ctx: typer.Context) -> None:
    """Run the background service: poll due sources, detect spikes, deliver alerts.

    Stays in the foreground (for systemd, Docker or a terminal) and logs to stdout;
    `--log-format json` gives JSON lines. SIGTERM or Ctrl-C stop it cleanly (exit 0).
    One service per database: a second one refuses to start.

    Example: mediawatch --config config.toml --log-format json run
    """
    from clock.moments import utcnow
    from scheduler.service import Service
    from storage.dbclock import DatabaseClock

    app_state = state(ctx)
    log_format, log_level = log_to_stdout(ctx)
    config = app_state.config
    from config.load import config_path

    path = config_path(app_state.config_path).resolve()
    engine = app_state.engine()
    service = Service(
        config=config,
        config_path=path,
        engine=engine,
        log_format=log_format,
        log_level=log_level,
        # Distributed mode: leases are compared across hosts, so by one clock.
        clock=DatabaseClock(engine) if config.distributed else utcnow,
    )
    desk = None
    if config.web is not None:  # the desk beside the service: one command for both
        from mediawatch.web.serve import address, desk_server, start_beside

        desk = desk_server(config, engine, config.web, os.environ)
        start_beside(desk)
        typer.echo(f"mediawatch desk: {address(config.web)}", err=True)
    signal.signal(signal.SIGTERM, service.stop)
    signal.signal(signal.SIGINT, service.stop)
    try:
        service.run()
    finally:
        if desk is not None:
            desk.should_exit = True
