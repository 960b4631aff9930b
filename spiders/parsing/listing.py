"""Listing pages to article links: what a feedless site's front or section page points at.

Pure, no I/O. With CSS selectors the links are exactly what they select; without them a
link is taken only when every clue of its shape agrees (``_shaped_links``), as any one clue
alone (a long text, an id in the path, a list) is also true of menus, footers and pagers.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector, SelectorError

from spiders.parsing.canonical import MAX_URL_LENGTH, canonical_url, registrable_domain
from spiders.parsing.decoding import MAX_ELEMENTS, MAX_HTML_CHARS, decode_html
from spiders.parsing.feeds import parse_feed_date

logger = logging.getLogger(__name__)

SELECTOR_KEYS = ("item", "link", "title", "date")
"""The keys of a source's ``selectors`` table; ``item`` is required."""

NOT_ARTICLE_SEGMENTS = frozenset(
    {
        "tag", "tags", "category", "categories", "cat", "topic", "topics", "author", "authors",
        "writer", "writers", "page", "search", "login", "logout", "signin", "signup",
        "register", "account", "subscribe", "newsletter", "newsletters", "feed", "feeds",
        "rss", "atom", "static", "assets", "media", "images", "img", "css", "js", "wp-content",
        "wp-admin", "wp-json", "wp-login.php", "cdn-cgi", "about", "contact", "privacy",
        "terms", "advertise", "archive", "archives", "video", "videos", "gallery", "live-tv",
    }
)  # fmt: skip
"""Path segments (lower-cased) that mark a listing, an account page or a file, not a story."""

ASSET_EXTENSIONS = frozenset(
    {
        "jpg", "jpeg", "png", "gif", "webp", "svg", "ico", "css", "js", "json", "xml", "rss",
        "pdf", "zip", "mp3", "mp4", "m4a", "webm", "woff", "woff2", "ttf", "txt",
    }
)  # fmt: skip
PAGINATION_PARAMS = frozenset({"page", "pg", "paged", "offset", "start"})
ID_PARAMS = frozenset({"id", "p", "aid", "nid", "sid", "newsid", "news_id", "story", "article"})

MIN_HEADLINE_WORDS = 4
MIN_HEADLINE_CHARS = 25
"""A headline has four words or more, or 25 characters (scripts written without spaces)."""

CARD_DEPTH = 6
"""How far above a link its repeated block may start (link, heading, body, card, ...)."""
MAX_CARD_LINKS = 8
"""A story's block links to a handful of places (story, image, author, tag, comments)."""

_LANDMARKS = frozenset({"nav", "aside", "menu"})
_PAGE_CHROME = frozenset({"header", "footer"})
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
_BLOCKS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "section", "article", "header",
     "footer", "figure", "figcaption", "blockquote", "table", "tr", "td", "th", "img",
     "h1", "h2", "h3", "h4", "h5", "h6"}
)  # fmt: skip
_CHROME_CLASSES = frozenset(
    {"nav", "navbar", "navigation", "menu", "mainmenu", "main-menu", "footer", "site-footer",
     "sidebar", "breadcrumb", "breadcrumbs", "site-header", "masthead"}
)  # fmt: skip
"""Class or id words of div-built navigation and footers (older CMS templates)."""
_STATE_CLASSES = frozenset(
    {"active", "current", "selected", "first", "last", "odd", "even", "open", "new"}
)
_LIST_ITEMS = frozenset({"li", "tr", "dd", "dt"})
_DIGITS = re.compile(r"\d+")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_WORD = re.compile(r"[^\W_]+")
_ID_RUN = re.compile(r"\d{4,}")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_PARSER = lxml.html.HTMLParser(
    collect_ids=False, default_doctype=False, remove_comments=True, remove_pis=True
)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DATE_MARKUP = "descendant-or-self::time | descendant-or-self::*[@itemprop='datePublished']"
_MONTH = rf"({'|'.join(_MONTHS)})[a-z]*"
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})\s+{_MONTH}\.?,?\s+(\d{{4}})\b", re.IGNORECASE)
_MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\.?\s+(\d{{1,2}}),?\s+(\d{{4}})\b", re.IGNORECASE)


@dataclass(frozen=True)
class ListedLink:
    url: str
    """Absolute, http(s), canonical spelling (fragment and trackers removed)."""
    title: str | None
    published: datetime | None
    """Naive UTC, only when the page says it."""


def find_article_links(
    html: bytes | str, base_url: str, selectors: Mapping[str, str] | None = None
) -> list[ListedLink]:
    """The article links of the listing page ``html`` fetched from ``base_url``, in page order.

    Raises ``ValueError`` only for bad ``selectors`` (a missing ``item``, an unknown key, CSS
    that does not parse); a broken page gives ``[]`` or what could be read of it."""
    compiled = check_selectors(selectors) if selectors is not None else None
    tree = _parse(html, base_url)
    if tree is None:
        return []
    links_base = _declared_base(tree, base_url)
    if compiled is not None:
        found = _selected_links(tree, links_base, compiled)
    else:
        found = _shaped_links(tree, base_url, links_base)
    return _merge(found)


def check_selectors(selectors: Mapping[str, str]) -> dict[str, CSSSelector]:
    """``selectors`` compiled, or ``ValueError`` saying which one is wrong and why."""
    unknown = sorted(set(selectors) - set(SELECTOR_KEYS))
    if unknown:
        raise ValueError(
            f"unknown selector key(s) {', '.join(unknown)}: use {', '.join(SELECTOR_KEYS)}"
        )
    if not str(selectors.get("item") or "").strip():
        raise ValueError("selectors need an 'item' selector (the block around each article)")
    compiled: dict[str, CSSSelector] = {}
    for key, css in selectors.items():
        if not isinstance(css, str) or not css.strip():
            raise ValueError(f"selector {key!r} is empty")
        try:
            compiled[key] = CSSSelector(css, translator="html")
        except SelectorError as exc:
            raise ValueError(f"selector {key!r} is not valid CSS ({css!r}): {exc}") from None
    return compiled


def _parse(html: bytes | str, base_url: str) -> Any | None:
    try:
        if isinstance(html, bytes):
            text = decode_html(html)
        else:  # lxml stops reading at a lone surrogate
            text = html[:MAX_HTML_CHARS].encode("utf-8", "replace").decode("utf-8")
        text = _XML_DECLARATION.sub("", text[:MAX_HTML_CHARS], count=1).replace("\x00", "")
        if "<" not in text:
            return None
        tree = lxml.html.document_fromstring(text, parser=_PARSER)
    except (etree.ParserError, ValueError, LookupError) as exc:  # LookupError: a bogus charset
        logger.info("unreadable listing page %s: %s", base_url, exc)
        return None
    if sum(1 for _ in tree.iter()) > MAX_ELEMENTS:
        logger.warning("refusing listing page %s: more than %d elements", base_url, MAX_ELEMENTS)
        return None
    return tree


def _declared_base(tree: Any, base_url: str) -> str:
    """The page's ``<base href>`` when it is a usable URL: relative links resolve against it."""
    for base in tree.iter("base"):
        declared = _absolute(base.get("href"), base_url)
        if declared is not None:
            return declared
    return base_url


def _selected_links(
    tree: Any, base_url: str, compiled: Mapping[str, CSSSelector]
) -> list[ListedLink]:
    found = []
    for item in compiled["item"](tree):
        anchor = _first(compiled["link"](item)) if "link" in compiled else item
        anchor = _with_href(anchor)
        url = _absolute(anchor.get("href") if anchor is not None else None, base_url)
        if anchor is None or url is None:
            continue
        if "title" in compiled:
            title = _text(_first(compiled["title"](item)))
        else:
            title = _text(anchor) or _heading(item)
        if "date" in compiled:
            published = _date_of(_first(compiled["date"](item)))
        else:
            published = _date_in(item)
        found.append(ListedLink(url, title or None, published))
    return found


def _shaped_links(tree: Any, base_url: str, links_base: str) -> list[ListedLink]:
    """Links that pass every rule, in order:

    1. an http(s) URL on the listing's own registrable site (``canonical_url`` spelling, so
       fragments and trackers are gone and encoded and raw non-ASCII slugs are one URL);
    2. an article-like path (``_article_path``);
    3. not in nav, aside or a page-level header/footer (``_in_chrome``);
    4. in a repeated block with few links (list items, a grid of cards) or an ``<article>``;
    5. a headline: a heading inside the link, its own text, or else a heading in its block.

    Dates are the page's own word (``time[datetime]``, ``datePublished``, a date written in
    the block), never a guess."""
    try:
        site = registrable_domain(urlsplit(canonical_url(base_url)).hostname or "")
        listing = canonical_url(base_url)
    except ValueError:
        logger.info("listing page URL %r is not http(s); no links taken", base_url)
        return []
    siblings: dict[Any, Counter[tuple[str, str]]] = {}
    found = []
    for anchor in tree.iter("a"):
        url = _absolute(anchor.get("href"), links_base)
        if url is None or url == listing or not _on_site(url, site) or not _article_path(url):
            continue
        if _in_chrome(anchor):
            continue
        card = _card(anchor, siblings)
        if card is None:
            continue
        title = _heading(anchor) or _text(anchor)  # a heading inside a link beats its summary
        if not _headline(title):
            title = _heading(card)
        if not _headline(title):
            continue
        found.append(ListedLink(url, title, _date_in(card)))
    return found


def _merge(found: list[ListedLink]) -> list[ListedLink]:
    """One link per URL at its first place; the longest title and the first date win."""
    merged: dict[str, ListedLink] = {}
    for link in found:
        seen = merged.get(link.url)
        if seen is None:
            merged[link.url] = link
            continue
        title = max((seen.title or "", link.title or ""), key=len) or None
        merged[link.url] = ListedLink(link.url, title, seen.published or link.published)
    return list(merged.values())


def _absolute(href: object, base_url: str) -> str | None:
    if not isinstance(href, str) or not href.strip():
        return None
    try:
        url = canonical_url(href, base=base_url)
    except ValueError:  # javascript:, mailto:, data:, http://[oops/, a bad port, ...
        return None
    return url if len(url) <= MAX_URL_LENGTH else None


def _on_site(url: str, site: str) -> bool:
    return registrable_domain(urlsplit(url).hostname or "") == site


def _article_path(url: str) -> bool:
    """A slug or a numeric id, in two path segments or more, or one long slug."""
    parts = urlsplit(url)
    segments = [unquote(s).strip() for s in parts.path.split("/") if s.strip()]
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key.lower() in PAGINATION_PARAMS for key, _ in query):
        return False
    query_id = any(key.lower() in ID_PARAMS and value.isdigit() for key, value in query)
    if not segments:
        return query_id  # WordPress's /?p=1234
    stem, _, extension = segments[-1].rpartition(".")
    if stem and extension.lower() in ASSET_EXTENSIONS:
        return False
    if any(segment.lower() in NOT_ARTICLE_SEGMENTS for segment in segments):
        return False
    words = [len(_WORD.findall(segment)) for segment in segments]
    long_slug = any(
        count >= 5 or (count >= 3 and len(segment) >= 40)
        for count, segment in zip(words, segments, strict=True)
    )
    slug = any(count >= 3 for count in words)
    numeric = any(_ID_RUN.search(segment) for segment in segments)
    return long_slug or query_id or ((slug or numeric) and len(segments) >= 2)


def _in_chrome(element: Any) -> bool:
    """Inside the site's navigation, a sidebar, or the page's own header or footer (a card's
    ``<header>``/``<footer>`` inside an ``<article>`` is part of the card)."""
    page_chrome = in_article = False
    for ancestor in element.iterancestors():
        tag = ancestor.tag if isinstance(ancestor.tag, str) else ""
        if tag in ("body", "html"):  # a body class such as "sidebar" says nothing of a link
            break
        if tag in _LANDMARKS or (ancestor.get("role") or "").strip().lower() in _CHROME_ROLES:
            return True
        words = f"{ancestor.get('id') or ''} {ancestor.get('class') or ''}"[:1000].lower()
        if not _CHROME_CLASSES.isdisjoint(words.split()):
            return True
        if tag in _PAGE_CHROME:
            if in_article:
                return True  # an article inside the page's footer
            page_chrome = True
        elif tag == "article":
            in_article, page_chrome = True, False
    return page_chrome


def _card(anchor: Any, siblings: dict[Any, Counter[tuple[str, str]]]) -> Any | None:
    """The repeated block (or ``<article>``) the link sits in, or None."""
    element = anchor
    for _ in range(CARD_DEPTH):
        parent = element.getparent()
        if parent is None or element.tag in ("body", "html"):
            return None
        if next(islice(element.iter("a"), MAX_CARD_LINKS, None), None) is not None:
            return None  # a section or a column holding many stories, not one story's card
        if element.tag == "article":
            return element
        counts = siblings.get(parent)
        if counts is None:
            counts = Counter(key for child in parent for key in _kinds(child))
            siblings[parent] = counts
        if any(counts[key] >= 2 for key in _kinds(element)):
            return element
        element = parent
    return None


def _kinds(element: Any) -> set[tuple[str, str]]:
    """What makes siblings alike: the tag with each class, digits and state words ignored
    (``views-row-1 views-row-first`` and ``views-row-2`` are one kind), or the bare tag of a
    classless element or a list item (``<li class="featured">`` is still an item)."""
    tag = element.tag if isinstance(element.tag, str) else ""
    classes = {_DIGITS.sub("", c) for c in (element.get("class") or "")[:500].lower().split()}
    kinds = {(tag, c) for c in classes - _STATE_CLASSES if c.strip("-_")}
    if not kinds or tag in _LIST_ITEMS:
        kinds.add((tag, ""))
    return kinds


def _headline(text: str | None) -> bool:
    return bool(text) and (
        len(_WORD.findall(text or "")) >= MIN_HEADLINE_WORDS
        or len(text or "") >= MIN_HEADLINE_CHARS
    )


def _heading(element: Any) -> str | None:
    """The first heading in ``element`` that reads like a headline."""
    for heading in element.iter(*_HEADINGS):
        text = _text(heading)
        if _headline(text):
            return text
    return None


def _first(elements: list[Any]) -> Any | None:
    return elements[0] if elements else None


def _with_href(element: Any | None) -> Any | None:
    if element is None or not isinstance(element.tag, str):
        return None
    if element.get("href") is not None:
        return element
    return _first([a for a in element.iter("a") if a.get("href") is not None])


def _text(element: Any | None) -> str | None:
    """The element's text with blocks kept apart (``<h2>Short</h2><p>A``: "Short A")."""
    if element is None or not isinstance(element.tag, str):
        return None
    parts: list[str] = []
    for event, node in etree.iterwalk(element, events=("start", "end")):
        block = node.tag in _BLOCKS
        if event == "start":
            parts.extend((" " if block else "", node.text or ""))
        else:
            parts.extend((" " if block else "", (node.tail or "") if node is not element else ""))
    return " ".join("".join(parts).split()) or None


def _date_in(block: Any) -> datetime | None:
    """The block's own date: ``<time>`` or ``datePublished`` markup, else a date in its text."""
    for element in block.xpath(_DATE_MARKUP):
        if (published := _date_of(element)) is not None:
            return published
    return _date_in_text(block.text_content())


def _date_of(element: Any | None) -> datetime | None:
    if element is None or not isinstance(element.tag, str):
        return None
    for attribute in ("datetime", "content", "title"):
        published = parse_feed_date(element.get(attribute))
        if published is not None:
            return published
    return _date_in_text(element.text_content())


def _date_in_text(text: str) -> datetime | None:
    """A date written in full in ``text`` (ISO, "20 Nov 2026", "Nov 20, 2026"); no guessing
    between day and month in ``11/10/2026``."""
    text = text[:10_000]
    try:
        if match := _ISO_DATE.search(text):
            year, month, day, hour, minute = match.groups()
            return datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0))
        if match := _DAY_MONTH_YEAR.search(text):
            day, month, year = match.groups()
            return datetime(int(year), _MONTHS.index(month.lower()) + 1, int(day))
        if match := _MONTH_DAY_YEAR.search(text):
            month, day, year = match.groups()
            return datetime(int(year), _MONTHS.index(month.lower()) + 1, int(day))
    except ValueError:  # 2026-13-45
        return None
    return None
