"""config.toml, parsed once at the edge into frozen, validated models.

The rest of the code receives these objects, never a dict and never the path.
Secrets never live in the file: channels name the environment variable that
holds them (``password_env``, ``webhook_url_env``, ``urls_env``).

Where the file comes from: ``--config PATH``, else ``$MEDIAWATCH_CONFIG``, else
``./config.toml``. ``$MEDIAWATCH_DB_URL`` overrides ``[storage] url``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from mediawatch.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("config.toml")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_pause(value: object) -> timedelta:
    """Like ``parse_duration`` but zero is allowed (``"0s"``: no pause)."""
    if value in (0, "0", "0s"):
        return timedelta(0)
    return parse_duration(value)


def parse_duration(value: object) -> timedelta:
    """``"30s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"1w"`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError(f"invalid duration {value!r} (write it like 30s, 15m, 2h, 1d)")
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {value!r}")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling of a duration: ``timedelta(minutes=90)`` -> ``"90m"``."""
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds}s"


def redact_url(url: str) -> str:
    """A URL safe to log or print: any password in it becomes ``***``."""
    return re.sub(r"(?<=://)([^/@:]*):[^/@]*@", r"\1:***@", url)


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]

Pause = Annotated[
    timedelta, BeforeValidator(parse_pause), PlainSerializer(format_duration, return_type=str)
]


class Model(BaseModel):
    """Frozen, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class StorageConfig(Model):
    url: str = "sqlite:///data/mediawatch.db"
    retain_text: Duration | None = None
    """Drop the body text of articles older than this (titles and counts stay)."""


class CrawlConfig(Model):
    allow_private_networks: bool = False
    """SSRF guard: refuse hosts on private, loopback, link-local or metadata addresses."""
    min_interval: Duration = timedelta(minutes=5)
    max_interval: Duration = timedelta(hours=6)
    user_agent: str = "mediawatch/0.1"
    contact_url: str = "https://github.com/mediawatch/mediawatch"
    obey_robots: bool = True
    timeout: Duration = timedelta(seconds=30)
    max_response_bytes: int = Field(default=10_000_000, gt=0)
    max_redirects: int = Field(default=5, ge=0)
    concurrency: int = Field(default=16, gt=0)
    concurrency_per_domain: int = Field(default=2, gt=0)
    delay: Pause = timedelta(seconds=1)
    recent: Duration = timedelta(days=3)
    """Sitemap entries (and child sitemaps) dated longer ago than this are not followed.
    Feed entries are all followed once: a feed is the publisher's own list of recent items."""
    crawl_timeout: Duration = timedelta(minutes=20)
    """A crawl subprocess running longer is killed by the service."""
    max_articles_per_poll: int = Field(default=500, gt=0)
    """At most this many new article pages are fetched per source per poll (newest first);
    the rest wait for the next poll."""

    @model_validator(mode="after")
    def _bounds(self) -> CrawlConfig:
        if self.min_interval > self.max_interval:
            raise ValueError("min_interval must not exceed max_interval")
        return self


class SourceConfig(Model):
    name: str = Field(min_length=1)
    url: str
    kind: Literal["feed", "sitemap"] = "feed"
    every: Duration | None = None
    """Starting poll interval; adaptive polling moves it within the crawl bounds."""
    obey_robots: bool | None = None
    """Per-source opt-out of robots.txt (None: the [crawl] default)."""
    language: str | None = None
    """Language to assume when a page does not declare one."""
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value


class ClusterConfig(Model):
    name: str = Field(min_length=1)
    terms: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    """If given, one of these must occur in the same article (within ``near`` words if set)."""
    exclude: tuple[str, ...] = ()
    """Any of these vetoes the cluster for the article."""
    near: int | None = Field(default=None, gt=0)
    query: str | None = None
    """A rule in the query language; the cluster matches when terms or query match."""
    description: str = ""

    @model_validator(mode="after")
    def _usable(self) -> ClusterConfig:
        if not self.terms and not self.query:
            raise ValueError("a cluster needs terms or a query")
        from mediawatch.watchlist import check_cluster  # the matcher owns what a term is

        check_cluster(self)
        return self


class DetectionConfig(Model):
    bucket: Duration = timedelta(hours=1)
    min_count: int = Field(default=5, ge=1)
    min_sources: int = Field(default=2, ge=1)
    cooldown: Duration = timedelta(hours=6)
    threshold: float = Field(default=0.001, gt=0, lt=1)
    """A bucket is a spike when its upper-tail probability is below this."""
    history: Duration = timedelta(days=14)
    quiet_threshold: float = Field(default=0.05, gt=0, lt=1)
    """An open episode's bucket is quiet when its tail probability is at least this."""
    close_after: int = Field(default=3, ge=1)
    """Quiet buckets in a row that close an episode (hysteresis)."""
    update_factor: float = Field(default=2.0, gt=1)
    """One update per episode, when a bucket counts this many times the opening bucket."""
    lookback: Duration = timedelta(hours=6)
    """Complete buckets this recent are judged again on every run (late stories count)."""
    backlog_fraction: float = Field(default=0.5, gt=0, le=1)
    """A bucket with this share of stories from a source's first poll after an outage
    (or its first poll ever) is backlog, not news: it opens no episode."""
    early: bool = True
    """The current, incomplete bucket may open an episode as soon as it is a spike."""

    @model_validator(mode="after")
    def _thresholds(self) -> DetectionConfig:
        if self.quiet_threshold <= self.threshold:
            raise ValueError("quiet_threshold must be above threshold (hysteresis)")
        return self


class EmailChannel(Model):
    type: Literal["email"]
    name: str = "email"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, gt=0, lt=65536)
    starttls: bool = False
    ssl: bool = False
    from_: str = Field(alias="from")
    to: tuple[str, ...] = Field(min_length=1)
    username: str | None = None
    password_env: str | None = None
    timeout: Duration = timedelta(seconds=30)

    @model_validator(mode="after")
    def _one_tls_mode(self) -> EmailChannel:
        if self.starttls and self.ssl:
            raise ValueError("choose starttls or ssl, not both")
        local = self.smtp_host in ("localhost", "127.0.0.1", "::1")
        if self.password_env and not (self.starttls or self.ssl or local):
            raise ValueError(
                f"a password would cross the network in clear text to {self.smtp_host}: "
                "set starttls = true (port 587) or ssl = true (port 465)"
            )
        return self


class SlackChannel(Model):
    type: Literal["slack"]
    name: str = "slack"
    webhook_url_env: str = "SLACK_WEBHOOK_URL"


class AppriseChannel(Model):
    type: Literal["apprise"]
    name: str = "apprise"
    urls_env: str
    """Environment variable holding one or more apprise URLs (space or comma separated)."""


class ConsoleChannel(Model):
    type: Literal["console"]
    name: str = "console"


Channel = Annotated[
    EmailChannel | SlackChannel | AppriseChannel | ConsoleChannel, Field(discriminator="type")
]


class AlertsConfig(Model):
    channels: tuple[Channel, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> AlertsConfig:
        names = [channel.name for channel in self.channels]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"channel names must be unique; give each a name: {duplicates}")
        return self


class ServiceConfig(Model):
    http: str | None = None
    """``host:port`` for /healthz and /metrics; localhost only unless you mean it."""
    tick: Duration = timedelta(seconds=30)


class ClusterModeConfig(Model):
    """Distributed mode: PostgreSQL storage, a Redis crawl frontier, ``mediawatch worker``s."""

    redis_url: str
    """``redis://host:6379/0``; the shared queue of due sources, requests and fingerprints."""
    key_prefix: str | None = None
    """Prefix of every Redis key (None: ``mediawatch:`` + a hash of the storage URL, so two
    databases can share one Redis)."""
    lease: Duration = timedelta(minutes=10)
    """A source handed to the workers is not due again before this; a crawl that died
    (a killed worker, a lost queue entry) is retried once it has passed."""
    leader_takeover: Duration = timedelta(seconds=30)
    """A replica waiting for the scheduler role takes over within this after the leader
    dies. A leader process that dies closes its socket (takeover within a few seconds);
    a leader *machine* that vanishes is noticed by server-side TCP keepalives set from
    this (whole seconds, so keep it at 10s or more)."""

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if not re.match(r"^(redis|rediss|unix)://", value):
            raise ValueError(
                f"not a Redis URL: {redact_url(value)!r} (write it like redis://host:6379/0)"
            )
        return value

    @field_validator("key_prefix")
    @classmethod
    def _plain_prefix(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z0-9_.:-]+$", value):
            raise ValueError("key_prefix may use letters, digits and _ . : - only")
        return value


class Config(Model):
    storage: StorageConfig = StorageConfig()
    crawl: CrawlConfig = CrawlConfig()
    sources: tuple[SourceConfig, ...] = ()
    clusters: tuple[ClusterConfig, ...] = ()
    detection: DetectionConfig = DetectionConfig()
    alerts: AlertsConfig = AlertsConfig()
    service: ServiceConfig = ServiceConfig()
    cluster: ClusterModeConfig | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        for kind, items in (("sources", self.sources), ("clusters", self.clusters)):
            names = [item.name for item in items]
            duplicates = sorted({name for name in names if names.count(name) > 1})
            if duplicates:
                raise ValueError(f"duplicate {kind} name(s): {', '.join(duplicates)}")
        if self.cluster is not None and self.storage.url.startswith("sqlite"):
            raise ValueError("[cluster] needs PostgreSQL storage: set [storage] url")
        from mediawatch.errors import WatchlistError
        from mediawatch.watchlist import Watchlist

        try:  # cross-cluster checks: unknown @Name references, cycles between queries
            Watchlist.from_config(self.clusters)
        except WatchlistError as exc:
            raise ValueError(f"[clusters] {exc}") from None
        return self


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


_TAGS = {"email", "slack", "apprise", "console"}


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
