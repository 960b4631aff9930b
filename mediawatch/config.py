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
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
from mediawatch.secrets import redact_url, secret_values

DEFAULT_CONFIG_PATH = Path("config.toml")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class DurationOverflowError(ValueError, OverflowError):
    """A duration longer than any date can hold: invalid in config (a ``ValueError``),
    "since the beginning of time" for ``--since`` (an ``OverflowError``)."""


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
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise DurationOverflowError(f"duration {value!r} is too long") from None


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling of a duration: ``timedelta(minutes=90)`` -> ``"90m"``."""
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]


@dataclass(frozen=True)
class AlarmRate:
    """A false-alarm budget: ``count`` expected false onsets per ``per``, per cluster."""

    count: float
    per: timedelta

    def per_bucket(self, width: timedelta) -> float:
        """The chance a quiet bucket of ``width`` may be flagged: one onset per flagged
        bucket at most, so the budget's rate times the bucket's width."""
        return self.count * width.total_seconds() / self.per.total_seconds()

    def __str__(self) -> str:
        return f"{self.count:g}/{format_duration(self.per)}"


_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$")
_RATE_UNITS = {"s": "s", "m": "m", "h": "h", "d": "d", "w": "w", "hour": "h", "day": "d",
               "week": "w", "month": "month"}  # fmt: skip


def parse_alarm_rate(value: object) -> AlarmRate:
    """``"1/2w"``, ``"0.5/week"``, ``"2/30d"``: expected false onsets per period."""
    if isinstance(value, AlarmRate):
        return value
    match = _RATE.match(value.lower()) if isinstance(value, str) else None
    unit = _RATE_UNITS.get(match.group(3).removesuffix("s") or "s") if match else None
    if match is None or unit is None:
        raise ValueError(f"invalid false-alarm rate {value!r} (write it like 1/2w or 0.5/week)")
    count, times = float(match.group(1)), float(match.group(2) or 1)
    per = timedelta(days=30 * times) if unit == "month" else parse_duration(f"{times:g}{unit}")
    if count <= 0:
        raise ValueError(f"false-alarm rate must be positive, got {value!r}")
    return AlarmRate(count, per)


FalseAlarms = Annotated[AlarmRate, BeforeValidator(parse_alarm_rate), PlainSerializer(str)]

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
    ca_bundle: str | None = None
    """A PEM file of CA certificates to trust besides the system's (and ``$SSL_CERT_FILE``)
    when crawling HTTPS sources: a private CA, an inspecting proxy."""

    @field_validator("ca_bundle")
    @classmethod
    def _readable_pem(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = Path(value).expanduser()
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise ValueError(f"cannot read {value}: {exc.strerror or exc}") from None
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise ValueError(f"{value} holds no PEM certificate")
        return str(path.resolve())

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
    sitemap_hosts: tuple[str, ...] = ()
    """Hosts besides the source's own site that its sitemap index may list children on
    (a CDN, say); children elsewhere are not followed."""

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
    channels: tuple[str, ...] | None = None
    """The names of the alert channels this cluster's alerts go to (None: every channel)."""

    @model_validator(mode="after")
    def _usable(self) -> ClusterConfig:
        if not self.terms and not self.query:
            raise ValueError("a cluster needs terms or a query")
        from mediawatch.watchlist import check_cluster  # the matcher owns what a term is

        check_cluster(self)
        return self


MAX_SPIKE_THRESHOLD = 0.1
"""However coarse the buckets, a spike is a one-in-ten event at least."""


class DetectionConfig(Model):
    bucket: Duration = timedelta(hours=1)
    min_count: int = Field(default=5, ge=1)
    min_sources: int = Field(default=2, ge=1)
    cooldown: Duration = timedelta(hours=6)
    false_alarms: FalseAlarms = AlarmRate(1, timedelta(weeks=4))
    """At most this many false onsets per cluster (the per-bucket threshold follows for any
    bucket width). One in four weeks: at one in two, a ten-cluster watch-list already
    mails five false alarms a week, and the synthetic null series of ``bench detect``
    (mid-level clusters with leaked wire copies) stay above 0.1 a week."""
    threshold: float | None = Field(default=None, gt=0, lt=1)
    """Expert override: a bucket is a spike when its (calibrated) tail probability is
    below this, whatever the bucket width."""
    history: Duration = timedelta(days=14)
    quiet_threshold: float | None = Field(default=None, gt=0, lt=1)
    """An open episode's bucket is quiet when its tail probability is at least this
    (default: ten times the spike threshold, at least 0.05)."""
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
        if self.quiet_threshold is not None and self.quiet_threshold <= self.spike_threshold():
            raise ValueError("quiet_threshold must be above threshold (hysteresis)")
        return self

    def spike_threshold(self, bucket: timedelta | None = None) -> float:
        """The per-bucket tail probability below which a bucket is a spike: ``threshold``
        when set, else the false-alarm budget spread over buckets of ``bucket`` (default:
        ``[detection] bucket``), at most ``MAX_SPIKE_THRESHOLD``."""
        if self.threshold is not None:
            return self.threshold
        return min(MAX_SPIKE_THRESHOLD, self.false_alarms.per_bucket(bucket or self.bucket))

    def quiet_for(self, bucket: timedelta | None = None) -> float:
        """The tail probability at or above which an open episode's bucket is quiet."""
        if self.quiet_threshold is not None:
            return self.quiet_threshold
        return min(0.5, max(0.05, 10 * self.spike_threshold(bucket)))


_CLOCK_TIME = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")


def parse_clock_time(value: object) -> time:
    """``"07:00"`` -> ``time(7, 0)``: a local time of day, hours and minutes."""
    if isinstance(value, time):
        return value
    match = _CLOCK_TIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"invalid time of day {value!r} (write it like 07:00)")
    return time(int(match.group(1)), int(match.group(2)))


ClockTime = Annotated[
    time,
    BeforeValidator(parse_clock_time),
    PlainSerializer(lambda t: f"{t:%H:%M}", return_type=str),
]

DEFAULT_DIGEST_AT = time(7, 0)


class ChannelModel(Model):
    """What every channel has besides its transport: instant alerts, or one daily digest."""

    mode: Literal["instant", "digest"] = "instant"
    at: ClockTime | None = None
    """When a digest channel gets its digest: local time in ``[alerts] timezone``."""

    @model_validator(mode="after")
    def _at_only_for_digests(self) -> ChannelModel:
        if self.at is not None and self.mode != "digest":
            raise ValueError('at is only for mode = "digest"')
        return self

    @property
    def digest_at(self) -> time:
        return self.at or DEFAULT_DIGEST_AT


class EmailChannel(ChannelModel):
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


class SlackChannel(ChannelModel):
    type: Literal["slack"]
    name: str = "slack"
    webhook_url_env: str = "SLACK_WEBHOOK_URL"


class AppriseChannel(ChannelModel):
    type: Literal["apprise"]
    name: str = "apprise"
    urls_env: str
    """Environment variable holding one or more apprise URLs (space or comma separated)."""


class ConsoleChannel(ChannelModel):
    type: Literal["console"]
    name: str = "console"


Channel = Annotated[
    EmailChannel | SlackChannel | AppriseChannel | ConsoleChannel, Field(discriminator="type")
]


class AlertsConfig(Model):
    channels: tuple[Channel, ...] = ()
    timezone: str = "UTC"
    """IANA name (``Europe/Berlin``) of the local time digests are sent at."""

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r} (an IANA name like Europe/Berlin or UTC)"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

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
        configured = [channel.name for channel in self.alerts.channels]
        for item in self.clusters:
            unknown = [name for name in item.channels or () if name not in configured]
            if unknown:
                raise ValueError(
                    f'[clusters] "{item.name}" channels: unknown channel {unknown[0]!r} '
                    f"(configured: {', '.join(configured) or 'none'})"
                )
        if self.cluster is not None and self.storage.url.startswith("sqlite"):
            raise ValueError("[cluster] needs PostgreSQL storage: set [storage] url")
        from mediawatch.errors import WatchlistError
        from mediawatch.watchlist import Watchlist

        try:  # cross-cluster checks: unknown @Name references, cycles between queries
            Watchlist.from_config(self.clusters)
        except WatchlistError as exc:
            raise ValueError(f"[clusters] {exc}") from None
        return self

    def secrets(self, environ: Mapping[str, str]) -> set[str]:
        """The secret values this configuration points at (to mask them in every log
        record): what its channels' ``*_env`` variables hold, the storage and Redis
        passwords."""
        variables = [
            value
            for channel in self.alerts.channels
            for key, value in channel.model_dump().items()
            if key.endswith("_env") and isinstance(value, str)
        ]
        urls = [self.storage.url] + ([self.cluster.redis_url] if self.cluster else [])
        return secret_values(variables, urls, environ)


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
