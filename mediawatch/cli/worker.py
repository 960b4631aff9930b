"""``mediawatch worker``: a crawl worker of distributed mode (``[cluster]``)."""

from __future__ import annotations

import typer

from errors import ConfigError
from mediawatch.cli.app import app, log_to_stdout, state


@app.command()
def worker(ctx: typer.Context) -> None:
    """Crawl sources from the shared Redis queue into PostgreSQL, until stopped.

    Distributed mode only (`[cluster] redis_url` in the config, PostgreSQL storage). Run
    any number of workers on any machine; the leading `mediawatch run` replica queues
    the due sources, the workers poll them, store the articles and record each poll.
    SIGTERM or Ctrl-C: the requests in flight finish and are stored, then exit 0.

    Example: mediawatch --config config.toml --log-format json worker
    """
    from spiders.distributed.worker import run_worker

    app_state = state(ctx)
    log_to_stdout(ctx)
    config = app_state.config
    if config.distributed is None:
        raise ConfigError(
            "`mediawatch worker` needs distributed mode: add [cluster] redis_url to the config"
        )
    engine = app_state.engine()
    try:
        run_worker(config, engine)
    finally:
        engine.dispose()
