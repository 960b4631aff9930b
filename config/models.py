"""The sections of config.toml and ``Config``, the whole file as one frozen model."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from cssselect import HTMLTranslator, SelectorError
from pydantic import (
    AliasChoices,
    Field,
    ModelWrapValidatorHandler,
    field_validator,
    model_validator,
)

from config.backfill import BackfillConfig
from config.base import Duration, Model, Pause
from config.channels import AlertsConfig
from config.detection import DetectionConfig
from config.web import WebConfig
from errors import WatchlistError
from logs.secrets import redact_url, secret_values
from watchlist.matcher import Watchlist
from watchlist.rules import check_cluster


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
    workers: int | None = Field(default=None, ge=0)
    """Processes extracting article pages (None: one per core; 0: in the crawl's own)."""
    extract_timeout: Duration = timedelta(seconds=20)
    """A page whose extraction takes longer is stored from its feed's title and summary."""
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
    kind: Literal["feed", "sitemap", "telegram", "html"] = "feed"
    """``telegram``: a public channel's web preview (``https://t.me/s/CHANNEL``); ``html``:
    a listing page without a feed, its article links followed like feed entries."""
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
    selectors: dict[Literal["item", "link", "title", "date"], str] | None = None
    """``kind = "html"`` only: CSS selectors of each article's block (``item``) and, within
    it, its link, title and date (None: links are found by their shape)."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value

    @field_validator("selectors")
    @classmethod
    def _css(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and "item" not in value:
            raise ValueError("selectors need an 'item' selector (the block around each article)")
        for key, css in (value or {}).items():
            try:
                HTMLTranslator().css_to_xpath(css)
            except SelectorError as exc:
                raise ValueError(f"selector {key!r} is not valid CSS ({css!r}): {exc}") from None
        return value

    @model_validator(mode="after")
    def _kind_fits(self) -> SourceConfig:
        if self.kind == "telegram" and not re.match(
            r"^https?://[^/\s]+/s/[A-Za-z0-9_]{1,64}/?$", self.url
        ):
            raise ValueError(f"a telegram source's url is https://t.me/s/CHANNEL, not {self.url}")
        if self.selectors is not None and self.kind != "html":
            raise ValueError('selectors are for kind = "html" sources')
        return self


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
        check_cluster(self)
        return self


class ServiceConfig(Model):
    http: str | None = None
    """``host:port`` for /healthz and /metrics; localhost only unless you mean it."""
    tick: Duration = timedelta(seconds=30)


class DistributedConfig(Model):
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
    distributed: DistributedConfig | None = Field(
        default=None, validation_alias=AliasChoices("distributed", "cluster")
    )
    """``[distributed]``; ``[cluster]``, its first name, is still read."""
    web: WebConfig | None = None
    """``[web]``: the analyst's desk; ``mediawatch run`` serves it only when configured."""
    backfill: BackfillConfig = BackfillConfig()

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
        return self

    @model_validator(mode="after")
    def _watchlist_compiles(self) -> Config:
        try:  # cross-cluster checks: unknown @Name references, cycles between queries
            self.watchlist()
        except WatchlistError as exc:
            raise ValueError(f"[clusters] {exc}") from None
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _distributed_storage(cls, data: Any, handler: ModelWrapValidatorHandler[Config]) -> Config:
        """Name the section as the user wrote it: ``[distributed]`` or its old ``[cluster]``."""
        given = data if isinstance(data, Mapping) else {}
        written = [key for key in ("distributed", "cluster") if key in given]
        if len(written) > 1:
            raise ValueError("[cluster] is the old name of [distributed]: keep one of them")
        config = handler(data)
        if config.distributed is not None and config.storage.url.startswith("sqlite"):
            section = written[0] if written else "distributed"
            raise ValueError(f"[{section}] needs PostgreSQL storage: set [storage] url")
        return config

    def watchlist(self) -> Watchlist:
        """The clusters compiled for matching: built once, when the config is validated."""
        clusters, watchlist = self._compiled
        # A model_copy that replaced the clusters also copied the old watch-list.
        return watchlist if clusters is self.clusters else Watchlist(self.clusters)

    @cached_property
    def _compiled(self) -> tuple[tuple[ClusterConfig, ...], Watchlist]:
        """Cached outside the fields, so configs still compare and hash by value."""
        return self.clusters, Watchlist(self.clusters)

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
        urls = [self.storage.url] + ([self.distributed.redis_url] if self.distributed else [])
        return secret_values(variables, urls, environ)
