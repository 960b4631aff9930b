"""The typer app, its global options, and what every command gets from them."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from logs.configure import LogFormat, configure_logging, mask_secrets

if TYPE_CHECKING:  # the config and the database load on first use: `--help` stays quick
    from sqlalchemy import Engine

    from config.models import Config

app = typer.Typer(
    name="mediawatch",
    help=(
        "Watch the news for a list of actors and themes, archive what matches, "
        "and alert when coverage of a cluster spikes.\n\n"
        "Example: mediawatch --config config.toml init && mediawatch crawl --once"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class AppState:
    """What the global options decided; the config is read on first use."""

    config_path: Path | None = None
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            from config.load import load_config

            self._config = load_config(self.config_path)
            # Before any command can log: libraries may log the secrets it points at.
            mask_secrets(self._config.secrets(os.environ))
        return self._config

    def engine(self, *, require_current: bool = True) -> Engine:
        """The database engine; by default refuses a database ``init`` has not prepared."""
        from storage.engine import make_engine
        from storage.migrate import require_current as check

        engine = make_engine(self.config.storage.url)
        if require_current:
            check(engine)
        return engine


def log_to_stdout(ctx: typer.Context) -> tuple[str, str]:
    """Log to stdout for a long-running command (``run``, ``worker``, ``web``), as the global
    ``--log-format`` / ``--log-level`` say; returns them for the command's children."""
    params = ctx.find_root().params
    log_format = str(params.get("log_format") or "text")
    log_level = str(params.get("log_level") or "INFO")
    configure_logging(log_level, "json" if log_format == "json" else "text", sys.stdout)
    return log_format, log_level


def state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="config.toml to use (default: $MEDIAWATCH_CONFIG, ./config.toml)"
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR")] = "INFO",
    log_format: Annotated[
        str, typer.Option(help="text (readable) or json (one object per line)")
    ] = "text",
) -> None:
    fmt: LogFormat = "json" if log_format == "json" else "text"
    configure_logging(log_level, fmt)
    ctx.obj = AppState(config_path=config)
