"""Sitemaps to entries: sitemap indexes, plain urlsets and Google News sitemaps.

Pure. The XML parser never resolves entities, never touches the network and refuses
huge trees, so an entity bomb ("billion laughs") or an external entity is harmless.
Gzipped sitemaps (``sitemap.xml.gz`` served without ``Content-Encoding``) are
inflated with a size cap. Only recent entries are worth following: ``recent_entries``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from lxml import etree

from spiders.parsing.feeds import absolute_link, parse_feed_date

logger = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class SitemapEntry:
    loc: str
    lastmod: datetime | None = None
    news_title: str = ""
    news_published: datetime | None = None
    publication_name: str | None = None
    language: str | None = None

    @property
    def published(self) -> datetime | None:
        """The news date when there is one, else lastmod."""
        return self.news_published or self.lastmod


@dataclass(frozen=True)
class ParsedSitemap:
    kind: Literal["index", "urlset", "invalid"]
    entries: tuple[SitemapEntry, ...] = ()
    """Pages (urlset) or child sitemaps (index; only ``loc``/``lastmod`` set)."""
    error: str | None = None
    skipped: tuple[str, ...] = ()
    """Why each unusable entry (a ``<loc>`` that is no http(s) URL) was left out."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        load_dtd=False,
        recover=True,
    )


def looks_like_sitemap(body: bytes) -> bool:
    head = body[:2048].lower()
    return b"<urlset" in head or b"<sitemapindex" in head


def parse_sitemap(body: bytes, url: str, *, max_size: int = 50_000_000) -> ParsedSitemap:
    """Parse a sitemap document fetched from ``url``."""
    if body[:2] == GZIP_MAGIC:
        from scrapy.utils.gz import gunzip  # size-capped, tolerant of truncated streams

        try:
            body = gunzip(body, max_size=max_size)
        except Exception as exc:  # any decompression failure is the source's problem
            return ParsedSitemap("invalid", error=f"unreadable gzipped sitemap: {exc}")
    try:
        root = etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        return ParsedSitemap("invalid", error=f"not a sitemap: {exc}")
    if root is None:
        return ParsedSitemap("invalid", error="not a sitemap: empty or unreadable document")
    kind = etree.QName(root).localname.lower()
    if kind in ("sitemapindex", "urlset"):
        skipped: list[str] = []
        tag = "sitemap" if kind == "sitemapindex" else "url"
        entries = tuple(_entries(root, url, tag, skipped))
        return ParsedSitemap(
            "index" if tag == "sitemap" else "urlset", entries, None, tuple(skipped)
        )
    return ParsedSitemap("invalid", error=f"not a sitemap: root element <{kind}>")


def _entries(
    root: etree._Element, base: str, tag: str, skipped: list[str]
) -> Iterable[SitemapEntry]:
    for node in root:
        if not isinstance(node.tag, str) or etree.QName(node).localname != tag:
            continue
        fields = _fields(node)
        loc = absolute_link(base, fields.get("loc", ""))
        if loc is None:
            skipped.append(f"no usable <loc> ({fields.get('loc', '')[:80]!r})")
            continue
        yield SitemapEntry(
            loc=loc,
            lastmod=parse_feed_date(fields.get("lastmod")),
            news_title=" ".join(fields.get("title", "").split()),
            news_published=parse_feed_date(fields.get("publication_date")),
            publication_name=fields.get("name") or None,
            language=(fields.get("language") or "").strip().lower()[:2] or None,
        )


def _fields(node: etree._Element) -> dict[str, str]:
    """Local name -> text of every descendant (``news:news/news:title`` -> ``title``)."""
    fields: dict[str, str] = {}
    for child in node.iter():
        if child is node or not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname.lower()
        if name not in fields and child.text and child.text.strip():
            fields[name] = child.text.strip()
    return fields


def recent_entries(
    entries: Iterable[SitemapEntry], now: datetime, recent: timedelta
) -> list[SitemapEntry]:
    """Entries dated within ``recent`` of ``now`` (undated ones too: they may be new),
    newest first."""
    cutoff = now - recent
    kept = [entry for entry in entries if entry.published is None or entry.published >= cutoff]
    kept.sort(key=lambda entry: entry.published or datetime.min, reverse=True)
    return kept
