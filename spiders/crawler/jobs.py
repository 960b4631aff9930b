"""What the spider is asked to poll: one ``SourceJob`` per source, made from its row and its
config by ``spiders.crawler.run.source_job`` (and sent to workers in distributed mode)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceJob:
    """What the spider needs of one source: where, what kind, its validators, its manners."""

    name: str
    url: str
    kind: str = "feed"
    etag: str | None = None
    last_modified: str | None = None
    obey_robots: bool = True
    language: str | None = None
    sitemap_hosts: tuple[str, ...] = ()
    """Hosts besides the source's own site that its sitemap index may point to."""
    selectors: tuple[tuple[str, str], ...] = ()
    """A listing page's CSS selectors (``kind = "html"``), as (key, selector) pairs."""
