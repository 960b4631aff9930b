"""A followed entry made into an ``ArticleItem``: from its page when the page can be had and
extracted, else from what the feed said of it; the publication time from the best witness.
A Telegram post is its own page: it becomes an item with no further request."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from scrapy.http import Response, TextResponse

from clock.moments import plausible
from spiders.crawler.analysis import article_fields
from spiders.crawler.extraction import ExtractedArticle, Page, Refused
from spiders.crawler.items import ArticleItem
from spiders.crawler.jobs import SourceJob
from spiders.parsing.aggregators import clean_aggregator_title, entry_publisher, is_google_news_link
from spiders.parsing.canonical import MAX_URL_LENGTH, prefer_canonical, site_of
from spiders.parsing.feeds import FeedEntry
from spiders.parsing.language import detect_language, normalise_language
from spiders.parsing.telegram import ChannelPost

logger = logging.getLogger(__name__)


def page_to_extract(response: Response, job: SourceJob, entry: FeedEntry) -> Page | str:
    """What ``response`` (the page of ``entry``) gives extraction, or why it cannot be used."""
    if is_google_news_link(response.url):
        return "Google News link could not be resolved"
    if not isinstance(response, TextResponse):
        return "not a text page"
    content_type = response.headers.get("Content-Type")
    return Page(
        body=response.body,
        url=response.url,
        fallback_language=entry.language or job.language,
        content_type=content_type.decode("latin-1") if content_type else None,
        # The feed's exact time is the best witness (``published_at``): no page search.
        date_from_text=entry.published is None,
        feed_title=_entry_title(entry),
        feed_summary=entry.summary,
    )


def article_item(
    response: Response,
    job: SourceJob,
    entry: FeedEntry,
    canonical: str,
    clock: Callable[[], datetime],
    extraction: ExtractedArticle | Refused | None,
) -> ArticleItem:
    """The article on ``response``, the page of ``entry`` (listed as ``canonical``), from
    what extraction made of it (``spiders.crawler.extraction``)."""
    url = canonical
    if isinstance(extraction, Refused):
        return fallback_item(job, entry, url, extraction.why, clock)
    if extraction is None:
        return fallback_item(job, entry, url, "no main text could be extracted", clock)
    extracted = extraction.extracted
    try:
        final = prefer_canonical(response.url, extracted.canonical_url)
    except ValueError:
        final = url
    if len(final) > MAX_URL_LENGTH:  # beyond what the archive's URL index can hold
        logger.info("source %s: %s: its canonical URL is too long; kept as listed", job.name, url)
        final = url
    title, text, summary = article_fields(extracted, _entry_title(entry), entry.summary)
    return ArticleItem(
        url=final,
        source_name=job.name,
        publisher=entry_publisher(entry, final, site_of(final)),
        fetched_at=clock(),
        title=title,
        text=text,
        summary=summary,
        author=extracted.author or entry.author,
        language=extracted.language or entry.language or job.language,
        published_at=published_at(entry, extracted.published_at, extracted.text_date),
        extracted=True,
        listed_url=canonical,
        analysis=extraction.analysis,
    )


def fallback_item(
    job: SourceJob, entry: FeedEntry, url: str, why: str, clock: Callable[[], datetime]
) -> ArticleItem:
    """The feed's title and summary standing in for a page that ``why`` could not be used."""
    logger.info("source %s: %s: %s; using the feed's title and summary", job.name, url, why)
    return ArticleItem(
        url=url,
        source_name=job.name,
        publisher=entry_publisher(entry, url, site_of(url)),
        fetched_at=clock(),
        title=_entry_title(entry),
        text=None,
        summary=entry.summary or None,
        author=entry.author,
        language=entry.language or job.language,
        published_at=entry.published,
        extracted=False,
        listed_url=url,
    )


def published_at(
    entry: FeedEntry, page: datetime | None, page_text: datetime | None = None
) -> datetime | None:
    """When the story was published, from the best witness at hand:

    1. the feed's own timestamp for the entry (exact, in UTC), unless it looks like the
       feed's build time (``FeedEntry.exact_time``);
    2. the page's metadata (``article:published_time``, JSON-LD, ``<time>``): a bare day
       or a zone-less time, but the publisher's statement;
    3. the feed's build time: late, but not by much for a new story;
    4. a date found in the page's text: a guess (a caption's "Nov. 6, 2019" is not when
       a breaking story broke), so the last resort."""
    if entry.published is not None and entry.exact_time:
        return entry.published
    return page or entry.published or page_text


def _entry_title(entry: FeedEntry) -> str:
    return clean_aggregator_title(entry.title, entry.publisher_name)


def post_item(
    job: SourceJob, post: ChannelPost, url: str, channel_title: str, clock: Callable[[], datetime]
) -> ArticleItem:
    """A channel's post (listed as the canonical ``url``) as an article: the channel is the
    publisher, the first line the title, the post's own time the publication time. A
    forward names its origin as the author, so ten channels forwarding one post are ten
    copies (each its own URL and publisher) of one story (same title and text)."""
    fetched = clock()
    published = post.published if post.published and plausible(post.published, fetched) else None
    return ArticleItem(
        url=url,
        source_name=job.name,
        publisher=channel_title,
        fetched_at=fetched,
        title=post.title,
        text=post.text,
        summary=None,
        author=post.forwarded_from or post.author,
        language=normalise_language(job.language) or detect_language(post.text),
        published_at=published,
        extracted=True,
        views=post.views,
        listed_url=url,
    )
