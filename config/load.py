"""Where config.toml comes from, how it is read, and one clear line for what is wrong in it."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    ValidationError,
)

from config.models import Config
from errors import ConfigError

DEFAULT_CONFIG_PATH = Path("config.toml")


def config_path(explicit: str | Path | None, environ: Mapping[str, str] = os.environ) -> Path:
    """Where the config comes from: the flag, else $MEDIAWATCH_CONFIG, else ./config.toml."""
    if explicit:
        return Path(explicit)
    if environ.get("MEDIAWATCH_CONFIG"):
        return Path(environ["MEDIAWATCH_CONFIG"])
    return DEFAULT_CONFIG_PATH


def load_config(path: str | Path | None = None, environ: Mapping[str, str] = os.environ) -> Config:
    """Read, parse and validate the config; every problem is one ``ConfigError`` line."""
    path = config_path(path, environ)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}") from None
    return parse_config(data, source=str(path), environ=environ)


def parse_config(
    data: dict[str, Any], source: str = "config", environ: Mapping[str, str] = os.environ
) -> Config:
    """Validate an already-parsed TOML document."""
    if environ.get("MEDIAWATCH_DB_URL"):
        storage = dict(data.get("storage") or {})
        storage["url"] = environ["MEDIAWATCH_DB_URL"]
        data = {**data, "storage": storage}
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation_error(exc, data)}") from None


def describe_validation_error(exc: ValidationError, data: Mapping[str, Any]) -> str:
    """The first problem, as ``[sources] #2 "Rudaw" every: invalid duration 'soon'``."""
    problems = [_describe(error, data) for error in exc.errors()]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0] + more


def _describe(error: Any, data: Mapping[str, Any]) -> str:
    loc = [part for part in error["loc"] if not (isinstance(part, str) and part in _TAGS)]
    where = _location(loc, data)
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "required key is missing"
    return f"{where}: {message}" if where else message


_TAGS = {"email", "slack", "apprise", "webhook", "console"}


def _location(loc: list[Any], data: Mapping[str, Any]) -> str:
    """Render a pydantic location as TOML a user recognises."""
    parts: list[str] = []
    node: Any = data
    for index, part in enumerate(loc):
        if isinstance(part, int):
            label = f"#{part + 1}"
            item = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                label += f' "{item["name"]}"'
            parts.append(label)
            node = item
            continue
        table = index == 0 and isinstance(node, dict) and isinstance(node.get(part), dict | list)
        parts.append(f"[{part}]" if table else str(part))
        node = node.get(part) if isinstance(node, dict) else None
    return " ".join(parts)
