"""What the store decides an article by (its dedupe hashes and its watch-list mentions),
computed in the extraction worker beside the page's extraction.

The store is one writer in the crawl's process, and hashing and matching an article's
text cost about as much CPU there as the rest of storing it: done where the page was
extracted, they run on every core. The rule that keeps this exact: an ``ArticleAnalysis``
(``spiders.crawler.items``) records the title, text and summary it was computed over,
tidied as the store tidies an item (``spiders.crawler.tidy``), and the store uses it only
for an item whose tidied fields are those very strings (``describes``); any other item it
analyses itself, with the same function. Which fields an extracted article gets is written
once, here (``article_fields``), for the workers and for ``spiders.crawler.article_pages``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from spiders.crawler.items import ArticleAnalysis
from spiders.crawler.tidy import tidy_line, tidy_text
from spiders.parsing.dedupe import normalised_title_hash, text_simhash
from watchlist.mentions import Matcher, mention_rows

if TYPE_CHECKING:
    from spiders.parsing.extract import Extracted

logger = logging.getLogger(__name__)


def article_fields(
    extracted: Extracted, feed_title: str, feed_summary: str | None
) -> tuple[str, str, str | None]:
    """(title, text, summary) of an extracted article: the page's title and text, the
    feed's title when the page has none; the feed's summary, else the page's description."""
    return extracted.title or feed_title, extracted.text, feed_summary or extracted.description


def analyse(
    title: str, text: str | None, summary: str | None, matcher: Matcher | None
) -> ArticleAnalysis:
    """The analysis of tidied fields (``matcher`` None: hashes only)."""
    return ArticleAnalysis(
        title=title,
        text=text,
        summary=summary,
        title_hash=normalised_title_hash(title),
        simhash=text_simhash(text),
        mentions=None if matcher is None else mention_rows(matcher, title, text, summary),
    )


def analyse_extracted(
    extracted: Extracted, feed_title: str, feed_summary: str | None, matcher: Matcher | None
) -> ArticleAnalysis | None:
    """The analysis of the article ``extracted`` gives, tidied as the store will tidy it;
    None if it fails (the store then analyses the article itself)."""
    title, text, summary = article_fields(extracted, feed_title, feed_summary)
    try:
        return analyse(tidy_line(title), tidy_text(text), tidy_text(summary), matcher)
    except Exception as exc:  # the store's own analysis decides, and reports it
        logger.warning("could not analyse %r: %s: %s", title[:80], type(exc).__name__, exc)
        return None
