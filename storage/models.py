"""The tables of mediawatch, as SQLAlchemy 2 typed models.

Times are stored as naive UTC datetimes (``clock.moments.utc`` makes them) so that
SQLite and PostgreSQL compare them the same way.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Source(Base):
    """A feed or sitemap, and its polling state: the database is the schedule."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20), default="feed")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=900)
    next_poll_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_status: Mapped[str | None] = mapped_column(String(20))
    """``ok``, ``not_modified`` or ``error``."""
    last_http_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    healthy: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Poll(Base):
    """One poll of one source: what it found, for health and backlog detection."""

    __tablename__ = "polls"
    __table_args__ = (Index(None, "source_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20))
    http_status: Mapped[int | None] = mapped_column(Integer)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    new_articles: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class Article(Base):
    """One stored article; syndicated copies point at the story's first article."""

    __tablename__ = "articles"
    __table_args__ = (
        Index(None, "published_at"),
        Index(None, "seen_at", "story_id"),
        Index(None, "title_hash", "published_at"),
        Index(None, "story_id"),
        Index(None, "source_id", "fetched_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    """Canonical URL: tracking parameters dropped, ``rel=canonical`` preferred."""
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    publisher: Mapped[str] = mapped_column(String(300))
    """The real publisher (an aggregator's item ``<source>`` or the final URL's site)."""
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    fetched_at: Mapped[datetime] = mapped_column(DateTime)
    seen_at: Mapped[datetime] = mapped_column(DateTime)
    """When the story happened for counting: published_at, or fetched_at if unknown/future."""
    extracted: Mapped[bool] = mapped_column(Boolean, default=True)
    """False when the page could not be had and the feed's title/summary stand in."""
    views: Mapped[int | None] = mapped_column(Integer)
    """A Telegram post's view count as its page showed it when fetched (None elsewhere)."""
    title_hash: Mapped[str | None] = mapped_column(String(64))
    simhash: Mapped[int | None] = mapped_column(BigInteger)
    """64-bit SimHash of the text, stored signed."""
    story_id: Mapped[int | None] = mapped_column(Integer)
    """Id of the first article of this story (its own id when it is the first)."""
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL")
    )

    source: Mapped[Source | None] = relationship()
    duplicate_of: Mapped[Article | None] = relationship(remote_side=[id])
    mentions: Mapped[list[Mention]] = relationship(
        back_populates="article", cascade="all, delete-orphan"
    )


class ArticleAlias(Base):
    """Another URL an article was reached under: the feed's link, when the page's
    ``rel=canonical`` or final redirect URL is where the article is stored.

    ``storage.queries.known_urls`` counts these as known, so a feed that lists the page
    under its own link does not make the crawl fetch it again."""

    __tablename__ = "article_aliases"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )


class Mention(Base):
    """Article x cluster x term. ``seen_at`` and ``story_id`` are copied from the article
    so that stories per cluster per bucket is one index range scan."""

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("article_id", "cluster", "term"),
        Index(None, "cluster", "seen_at", "story_id"),
        Index(None, "cluster", "seen_at", "story_id", "article_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    cluster: Mapped[str] = mapped_column(String(200))
    term: Mapped[str] = mapped_column(String(500))
    hits: Mapped[int] = mapped_column(Integer, default=1)
    seen_at: Mapped[datetime] = mapped_column(DateTime)
    story_id: Mapped[int | None] = mapped_column(Integer)

    article: Mapped[Article] = relationship(back_populates="mentions")


class AlertEpisode(Base):
    """A spike of one cluster, from onset to close; one alert when it opens.

    At most one episode per cluster and onset bucket (a unique index): two detection runs
    racing to open the same spike cannot both write one, nor both queue its alert."""

    __tablename__ = "alert_episodes"
    __table_args__ = (
        Index(None, "cluster", "opened_at"),
        Index(None, "cluster", "onset_bucket", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="open")
    """``open`` or ``closed``."""
    onset_bucket: Mapped[datetime] = mapped_column(DateTime)
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_bucket: Mapped[datetime] = mapped_column(DateTime)
    observed: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float] = mapped_column()
    tail_probability: Mapped[float] = mapped_column()
    peak_count: Mapped[int] = mapped_column(Integer)
    sources: Mapped[int] = mapped_column(Integer, default=0)
    updates: Mapped[int] = mapped_column(Integer, default=0)
    quiet_buckets: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    """When its update alert was queued (the digest lists episodes opened or updated)."""
    muted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Opened while its cluster was muted: no alert was queued for it, nor ever will be."""
    feedback: Mapped[str | None] = mapped_column(String(20))
    """``useful`` or ``false_alarm`` (``alerts mark``); the yardstick of ``alerts backtest``."""
    feedback_at: Mapped[datetime | None] = mapped_column(DateTime)


class ClusterMute(Base):
    """A cluster muted until ``until`` (``alerts mute``): its episodes queue no alert."""

    __tablename__ = "cluster_mutes"

    cluster: Mapped[str] = mapped_column(String(200), primary_key=True)
    until: Mapped[datetime] = mapped_column(DateTime)
    muted_at: Mapped[datetime] = mapped_column(DateTime)


class OutboxMessage(Base):
    """An alert waiting for (or done with) delivery through one channel.

    Written in the same transaction as the episode change; marked sent only after the
    channel accepted it. ``idempotency_key`` (episode, kind, channel) makes a second
    write of the same alert a no-op."""

    __tablename__ = "alert_outbox"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    episode_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_episodes.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    """``open``, ``update``, ``digest`` or ``test``."""
    payload: Mapped[str] = mapped_column(Text)
    """The rendered alert as JSON."""
    status: Mapped[str] = mapped_column(String(20), default="pending")
    """``pending``, ``sending``, ``sent`` or ``failed``."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    """When a deliverer took the message (status ``sending``); the lease runs from here."""
    claim_token: Mapped[str | None] = mapped_column(String(64))
    """The claiming deliverer's random token: only its own claim can be marked sent."""
