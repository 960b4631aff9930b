"""What a source lists, made into the entries the spider follows (a sitemap's URLs, a
listing page's links), and which child sitemaps of an index are followed."""

from __future__ import annotations

from urllib.parse import urlsplit

from spiders.crawler.jobs import SourceJob
from spiders.parsing.canonical import MAX_URL_LENGTH, registrable_domain
from spiders.parsing.feeds import FeedEntry
from spiders.parsing.listing import ListedLink
from spiders.parsing.sitemaps import SitemapEntry

MAX_SITEMAP_DEPTH = 2
"""How deep sitemap indexes are followed: the protocol forbids an index of indexes, but
sites nest them; an index of indexes of urlsets is followed, nothing deeper."""


def sitemap_entry(entry: SitemapEntry) -> FeedEntry:
    """A sitemap's news date is the publication time; a bare ``lastmod`` is only when
    the page last changed, so the page's own date is preferred to it."""
    return FeedEntry(
        link=entry.loc,
        title=entry.news_title,
        published=entry.published,
        language=entry.language,
        exact_time=entry.news_published is not None,
    )


def listed_entry(link: ListedLink) -> FeedEntry:
    """A listing page's date is often a bare day: the page's own metadata is preferred."""
    return FeedEntry(
        link=link.url, title=link.title or "", published=link.published, exact_time=False
    )


def refuse_child(job: SourceJob, url: str, depth: int) -> str | None:
    """Why a child sitemap at ``depth`` is not followed, or None to follow it."""
    if depth > MAX_SITEMAP_DEPTH:
        return f"sitemap indexes nested deeper than {MAX_SITEMAP_DEPTH} levels"
    if len(url) > MAX_URL_LENGTH:
        return f"child sitemap URL longer than {MAX_URL_LENGTH} characters"
    host = _host(url)
    if host in job.sitemap_hosts or registrable_domain(host) == registrable_domain(_host(job.url)):
        return None
    return f"child sitemap on another site ({host}); list it in the source's sitemap_hosts"


def looks_like_feed(body: bytes) -> bool:
    head = body[:2048].lower()
    return any(tag in head for tag in (b"<rss", b"<feed", b"<rdf:rdf", b"<channel"))


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
