"""A public Telegram channel's web preview (``https://t.me/s/CHANNEL``) read into its posts.

Pure, no clock: like ``parse_feed``, a page that cannot be used is a result with an
``error``, never an exception. The one rule that is not obvious: a post belongs to the
channel the page was asked for, so a post whose ``data-post`` names another channel (or
no number) is skipped, and every post's URL is ``<scheme>://<host>/CHANNEL/ID`` on the
host that served the page (``t.me`` in real life, a local server in tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import unquote, urlsplit

import lxml.html
from lxml import etree

from clock.moments import utc
from spiders.parsing.decoding import decode_html

CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
"""A public channel's username as it appears in ``/s/CHANNEL`` and ``data-post``."""
MAX_TITLE_CHARS = 300
MAX_PUBLISHER_CHARS = 300
_BLOCKS = {"br", "p", "div", "blockquote", "pre", "li"}
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_VIEWS = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*([KkMm]?)\s*$")


@dataclass(frozen=True)
class ChannelPost:
    """One post as the preview shows it; ``published`` is naive UTC or None."""

    channel: str
    id: int
    url: str
    text: str
    published: datetime | None
    views: int | None = None
    forwarded_from: str | None = None
    """The name of the channel (or person) the post was forwarded from, as shown."""
    forwarded_url: str | None = None
    """The original post's link when the preview gives one (``t.me/ORIGIN/ID``)."""
    author: str | None = None
    """The post's signature, when the channel signs its posts."""

    @property
    def title(self) -> str:
        """The first non-empty line, trimmed (and shortened at a word if very long)."""
        first = next((line.strip() for line in self.text.splitlines() if line.strip()), "")
        if len(first) <= MAX_TITLE_CHARS:
            return first
        cut = first[:MAX_TITLE_CHARS].rsplit(" ", 1)[0] or first[:MAX_TITLE_CHARS]
        return cut.rstrip() + "…"


@dataclass(frozen=True)
class ChannelPage:
    """What one preview page holds: the channel's title, its posts (oldest first, as the
    page lists them), the ``before`` id of the next older page, and what was skipped."""

    channel: str
    title: str
    posts: list[ChannelPost] = field(default_factory=list)
    before: int | None = None
    skipped: list[str] = field(default_factory=list)
    error: str | None = None


def channel_of(url: str) -> str | None:
    """The channel a preview URL names (``https://t.me/s/CHANNEL`` -> ``CHANNEL``)."""
    try:
        path = unquote(urlsplit(url).path)
    except ValueError:
        return None
    parts = [part for part in path.split("/") if part]
    if len(parts) == 2 and parts[0] == "s" and CHANNEL_NAME.match(parts[1]):
        return parts[1]
    return None


def post_url(page_url: str, channel: str, post_id: int) -> str:
    """A post's own link, on the host that served the preview."""
    parts = urlsplit(page_url)
    return f"{parts.scheme}://{parts.netloc}/{channel}/{post_id}"


def parse_channel_page(body: bytes | str, page_url: str) -> ChannelPage:
    """The posts of the preview page ``body`` fetched from ``page_url`` (``/s/CHANNEL``)."""
    channel = channel_of(page_url)
    if channel is None:
        return ChannelPage("", "", error=f"not a channel preview URL (/s/CHANNEL): {page_url}")
    try:
        text = decode_html(body) if isinstance(body, bytes) else body
        text = _XML_DECLARATION.sub("", text, count=1).replace("\x00", "")
        if "<" not in text:
            return ChannelPage(channel, channel, error="the channel page is empty or not HTML")
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError, LookupError) as exc:  # LookupError: a bogus charset
        return ChannelPage(channel, channel, error=f"unreadable channel page: {exc}")
    wraps = _by_class(root, "tgme_widget_message_wrap")
    if not wraps and not _by_class(root, "tgme_channel_history"):
        return ChannelPage(
            channel,
            channel,
            error="no channel preview on this page (the channel may not allow web preview)",
        )
    title = _channel_title(root) or channel
    posts: list[ChannelPost] = []
    skipped: list[str] = []
    for wrap in wraps:
        post, why = _post(wrap, page_url, channel)
        if post is not None:
            posts.append(post)
        elif why:
            skipped.append(why)
    return ChannelPage(channel, title, posts, _before(root), skipped)


def _post(
    wrap: lxml.html.HtmlElement, page_url: str, channel: str
) -> tuple[ChannelPost | None, str]:
    """The post in one ``.tgme_widget_message_wrap``, or None and why (empty: say nothing)."""
    message = next(iter(wrap.xpath(".//*[@data-post]")), None)
    if message is None:
        return None, ""  # "no posts found" and other furniture
    data_post = str(message.get("data-post") or "")
    name, _, number = data_post.strip().partition("/")
    if name.lower() != channel.lower() or not number.isdigit() or len(number) > 18:
        return None, f"post {data_post[:80]!r} is not a post of {channel}"
    if _by_class(message, "service_message"):
        return None, ""
    text = "\n\n".join(t for t in (_text(node) for node in _own_texts(message)) if t)
    if not text:
        return None, f"post {channel}/{number} has no text or caption"
    origin = next(iter(_by_class(message, "tgme_widget_message_forwarded_from_name")), None)
    return (
        ChannelPost(
            channel=channel,
            id=int(number),
            url=post_url(page_url, channel, int(number)),
            text=text,
            published=_published(message),
            views=_views(message),
            forwarded_from=(_line(origin)[:MAX_PUBLISHER_CHARS] or None)
            if origin is not None
            else None,
            forwarded_url=(origin.get("href") or None) if origin is not None else None,
            author=_first_line(message, "tgme_widget_message_from_author"),
        ),
        "",
    )


def _own_texts(message: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    """The post's text and media captions, not the quoted text of the post it replies to."""
    return [
        node
        for node in _by_class(message, "tgme_widget_message_text")
        + _by_class(message, "tgme_widget_message_poll_question")
        + _by_class(message, "tgme_widget_message_document_title")
        if not node.xpath("ancestor::*[contains(concat(' ', normalize-space(@class), ' '),"
                          " ' tgme_widget_message_reply ')]")
    ]  # fmt: skip


def _published(message: lxml.html.HtmlElement) -> datetime | None:
    """The exact time of the post: its date link's ``<time datetime>``, in naive UTC."""
    times = message.xpath(
        ".//*[contains(concat(' ', normalize-space(@class), ' '), ' tgme_widget_message_date ')]"
        "//time[@datetime]"
    ) or message.xpath(".//time[@datetime]")
    for node in times:
        value = str(node.get("datetime") or "").strip()
        try:
            return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except (ValueError, OverflowError):
            continue
    return None


def _views(message: lxml.html.HtmlElement) -> int | None:
    """``1.2K`` -> 1200; None when not shown or unreadable."""
    node = next(iter(_by_class(message, "tgme_widget_message_views")), None)
    match = _VIEWS.match(_line(node)) if node is not None else None
    if match is None:
        return None
    number = float(match.group(1).replace(",", "."))
    return int(number * {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()])


def _before(root: lxml.html.HtmlElement) -> int | None:
    """The id to ask ``?before=`` for the next older page (the "load more" link)."""
    for node in _by_class(root, "tme_messages_more"):
        value = str(node.get("data-before") or "").strip()
        if value.isdigit() and len(value) <= 18:
            return int(value)
    return None


def _channel_title(root: lxml.html.HtmlElement) -> str:
    title = _first_line(root, "tgme_channel_info_header_title")
    if not title:
        metas = root.xpath("//meta[@property='og:title']/@content")
        title = " ".join(str(metas[0]).split()) if metas else ""
    return title[:MAX_PUBLISHER_CHARS]


def _first_line(root: lxml.html.HtmlElement, css_class: str) -> str | None:
    node = next(iter(_by_class(root, css_class)), None)
    return (_line(node) or None) if node is not None else None


def _by_class(root: lxml.html.HtmlElement, css_class: str) -> list[lxml.html.HtmlElement]:
    found: list[lxml.html.HtmlElement] = root.xpath(
        f".//*[contains(concat(' ', normalize-space(@class), ' '), ' {css_class} ')]"
    )
    return found


def _line(node: lxml.html.HtmlElement) -> str:
    return " ".join(str(node.text_content()).split())


def _text(node: lxml.html.HtmlElement) -> str:
    """The node's text with ``<br>`` and blocks as line breaks, spaces tidied per line."""
    pieces: list[str] = []
    for event, part in etree.iterwalk(node, events=("start", "end", "comment", "pi")):
        if event == "start":
            if str(part.tag).lower() in _BLOCKS:
                pieces.append("\n")
            pieces.append(part.text or "")
        elif part is not node and part.tail:  # after an element, a comment or a <?pi?>
            pieces.append(part.tail)
    lines = (" ".join(line.split()) for line in "".join(pieces).splitlines())
    return "\n".join(line for line in lines if line)
