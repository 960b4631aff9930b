"""Atom documents (RFC 4287) from plain entries: scraped text becomes element text, never markup.

Text is made fit for XML first (``clean_text``: characters XML 1.0 forbids, C1 controls and
lone surrogates removed), because lxml refuses them and a reader's parser would too.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from clock.moments import utc

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MEDIA_TYPE = "application/atom+xml"

_NOT_XML = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]+")
_LANGUAGE = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "mediawatch.invalid")


@dataclass(frozen=True)
class Link:
    href: str
    rel: str = "alternate"
    type: str | None = None


@dataclass(frozen=True)
class AtomEntry:
    id: str
    """A URI stable for the story or episode (``stable_id``)."""
    title: str
    updated: datetime
    """Naive UTC, as the database stores it."""
    link: str | None = None
    published: datetime | None = None
    summary: str = ""
    author: str | None = None
    language: str | None = None
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class AtomFeed:
    id: str
    title: str
    updated: datetime
    author: str
    links: tuple[Link, ...] = ()
    subtitle: str = ""
    language: str | None = None
    entries: tuple[AtomEntry, ...] = ()


def clean_text(text: str) -> str:
    """``text`` without what XML 1.0 cannot carry or a reader should not show: C0 controls
    but tab and line breaks, DEL, C1 controls, lone surrogates, U+FFFE and U+FFFF."""
    return _NOT_XML.sub("", text)


def one_line(text: str) -> str:
    """``clean_text`` with every run of white space (line breaks included) as one space."""
    return " ".join(clean_text(text).split())


def language_tag(value: str | None) -> str | None:
    """``value`` if it reads as a language tag (``ar``, ``en-GB``), else None."""
    return value if value and _LANGUAGE.match(value) else None


def stable_id(kind: str, *key: str) -> str:
    """A ``urn:uuid:`` that is the same wherever and whenever it is built from the same key."""
    name = "\x1f".join((kind, *key)).encode("utf-8", "surrogatepass")
    digest = hashlib.sha1(_NAMESPACE.bytes + name, usedforsecurity=False).digest()
    return uuid.UUID(bytes=digest[:16], version=5).urn  # uuid5, for any string


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC, to the second: ``2026-11-20T12:00:00Z``."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_feed(feed: AtomFeed) -> bytes:
    """The feed as a UTF-8 Atom document."""
    root = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    if language_tag(feed.language):
        root.set(XML_LANG, str(feed.language))
    _text(root, "id", feed.id)
    _text(root, "title", one_line(feed.title) or "(untitled)")
    if feed.subtitle:
        _text(root, "subtitle", one_line(feed.subtitle))
    _text(root, "updated", timestamp(feed.updated))
    _author(root, feed.author)
    _links(root, feed.links)
    _text(root, "generator", "mediawatch")
    for entry in feed.entries:
        _entry(root, entry)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _entry(parent: etree._Element, entry: AtomEntry) -> None:
    element = etree.SubElement(parent, f"{{{ATOM}}}entry")
    language = language_tag(entry.language)
    if language:
        element.set(XML_LANG, language)
    _text(element, "id", entry.id)
    _text(element, "title", one_line(entry.title) or "(no title)")
    _text(element, "updated", timestamp(entry.updated))
    if entry.published is not None:
        _text(element, "published", timestamp(entry.published))
    if entry.author and one_line(entry.author):
        _author(element, entry.author)
    if entry.link:
        _links(element, (Link(clean_text(entry.link).strip()),))
    for term in entry.categories:
        if one_line(term):
            etree.SubElement(element, f"{{{ATOM}}}category", term=one_line(term))
    summary = _paragraphs(entry.summary)
    if summary:
        _text(element, "summary", summary).set("type", "text")


def _paragraphs(text: str) -> str:
    """Clean text with line breaks kept (``\\r\\n`` as ``\\n``) and the ends trimmed."""
    lines = clean_text(text.replace("\r\n", "\n").replace("\r", "\n")).split("\n")
    return "\n".join(" ".join(line.split()) for line in lines).strip()


def _links(parent: etree._Element, links: Sequence[Link]) -> None:
    for link in links:
        element = etree.SubElement(parent, f"{{{ATOM}}}link", rel=link.rel, href=link.href)
        if link.type:
            element.set("type", link.type)


def _author(parent: etree._Element, name: str) -> None:
    author = etree.SubElement(parent, f"{{{ATOM}}}author")
    _text(author, "name", one_line(name))


def _text(parent: etree._Element, tag: str, value: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM}}}{tag}")
    element.text = value
    return element
