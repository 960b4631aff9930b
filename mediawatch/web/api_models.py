"""The shapes ``/api/v1`` answers with, so its OpenAPI document describes what it sends.

Times are ISO 8601 strings in naive UTC, as the CLI's ``--format json`` writes them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiError(Shape):
    error: str


class ClusterGlance(Shape):
    name: str
    description: str
    stories_24h: int
    """Distinct stories in the last 24 hours."""
    usual: float
    """Stories per 24 hours over the 14 days before."""
    open_episode: int | None
    """The id of the cluster's open episode (the oldest, if several), or null."""
    open_episodes: list[int]


class TrendRow(Shape):
    """``report --format json``: one cluster in one bucket."""

    cluster: str
    bucket: str
    articles: int
    stories: int
    sources: int
    share: float


class SearchHit(Shape):
    """``search --format json``: ``snippet`` has «» around the matches; ``highlights`` are
    their ``[start, end)`` offsets in the unmarked snippet."""

    id: int
    seen_at: str
    publisher: str
    source: str | None
    language: str | None
    title: str
    url: str
    snippet: str
    snippet_field: str
    highlights: list[list[int]]


class Episode(Shape):
    """``alerts list --format json``."""

    id: int
    cluster: str
    status: str
    opened_at: str
    closed_at: str | None
    observed: int
    expected: float
    peak: int
    sources: int
    delivery: str
    errors: str
    muted: bool
    muted_until: str | None
    mark: str


class SourceHealth(Shape):
    """``sources status --format json``, with the source's kind and Telegram channel."""

    name: str
    healthy: bool
    last_poll: str | None
    result: str
    http: int | None
    next_due: str | None
    interval: str
    failures: int
    articles_per_day: float
    error: str
    kind: str
    """What the source reads (``[[sources]] kind``): ``feed`` (RSS/Atom), ``sitemap``,
    ``telegram`` (a channel's web preview) or ``html`` (a listing page)."""
    channel: str | None
    """A telegram source's channel (``https://t.me/NAME``); null for the other kinds."""


class Copy(Shape):
    id: int
    url: str
    title: str
    publisher: str
    source: str | None
    language: str | None
    seen_at: str


class ArticleMention(Shape):
    cluster: str
    term: str
    hits: int


class ArticleDetail(Shape):
    id: int
    url: str
    title: str
    publisher: str
    source: str | None
    language: str | None
    author: str | None
    seen_at: str
    published_at: str | None
    summary: str | None
    text: str | None
    story_id: int
    duplicate_of: int | None
    copies: list[Copy]
    """The other articles of the story, oldest first."""
    mentions: list[ArticleMention]
