"""Telegram channels on the local newsroom: pages shaped like the real web preview
(``https://t.me/s/CHANNEL``), served at ``/s/CHANNEL`` and paged back with ``?before=ID``.

The markup follows the public preview as feed bridges read it (RSSHub's telegram route):
``.tgme_channel_info_header_title``, one ``.tgme_widget_message_wrap`` per post holding a
``.tgme_widget_message[data-post="CHANNEL/ID"]`` with its ``.tgme_widget_message_text``,
an optional ``.tgme_widget_message_forwarded_from_name``, a photo with its caption, the
footer's ``.tgme_widget_message_views`` and ``a.tgme_widget_message_date > time[datetime]``,
and ``a.tme_messages_more[data-before]`` above the posts when older ones exist. Posts are
listed oldest first, newest last, as on the real page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from urllib.parse import parse_qs

from support.newsroom import Newsroom, Reply, Request


@dataclass
class Post:
    id: int
    text: str
    """Lines become ``<br/>``s; empty for a photo without caption."""
    published: datetime | None = None
    """Written as ``time[datetime]`` in ISO form (naive means UTC); None: no ``<time>``."""
    raw_datetime: str | None = None
    """Written as the ``datetime`` attribute as is (an odd date), instead of ``published``."""
    views: str | None = "1.2K"
    forwarded_from: tuple[str, str] | None = None
    """(name, link) of the origin of a forward."""
    photo: bool = False
    """A photo post: ``text`` is its caption."""
    reply_to: str | None = None
    """The quoted text of the post this one replies to (not the post's own text)."""
    service: bool = False
    """A service message ("channel photo updated")."""


@dataclass
class Channel:
    name: str
    title: str
    posts: list[Post] = field(default_factory=list)
    page_size: int = 20
    data_post_name: str | None = None
    """Write this channel name in ``data-post`` instead of ``name`` (a foreign post)."""


def render_post(channel: Channel, post: Post, base: str) -> str:
    name = channel.data_post_name or channel.name
    link = f"{base}/{channel.name}/{post.id}"
    parts = [
        '<div class="tgme_widget_message_wrap js-widget_message_wrap">',
        f'<div class="tgme_widget_message text_not_supported_wrap js-widget_message" '
        f'data-post="{escape(name)}/{post.id}" data-view="x">',
        '<div class="tgme_widget_message_bubble">',
        '<div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_'
        f'owner_name" href="{base}/{channel.name}"><span dir="auto">{escape(channel.title)}'
        "</span></a></div>",
    ]
    if post.service:
        parts.append(
            '<div class="message_media_not_supported_wrap service_message">'
            '<div class="tgme_widget_message_text">Channel photo updated</div></div>'
        )
    if post.forwarded_from:
        origin, href = post.forwarded_from
        parts.append(
            '<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from '
            f'<a class="tgme_widget_message_forwarded_from_name" href="{escape(href)}">'
            f'<span dir="auto">{escape(origin)}</span></a></div>'
        )
    if post.reply_to:
        parts.append(
            f'<a class="tgme_widget_message_reply" href="{base}/{channel.name}/1">'
            '<div class="tgme_widget_message_author accent_color"><span class="tgme_widget_'
            f'message_author_name">{escape(channel.title)}</span></div>'
            f'<div class="tgme_widget_message_text js-message_reply_text">{escape(post.reply_to)}'
            "</div></a>"
        )
    if post.photo:
        parts.append(
            '<a class="tgme_widget_message_photo_wrap" href="#" style="width:800px;'
            "background-image:url('https://cdn.example/photo.jpg')\"></a>"
        )
    if post.text and not post.service:
        body = "<br/>".join(escape(line) for line in post.text.split("\n"))
        parts.append(
            f'<div class="tgme_widget_message_text js-message_text" dir="auto">{body}</div>'
        )
    parts.append(
        '<div class="tgme_widget_message_footer compact js-message_footer">'
        '<div class="tgme_widget_message_info short js-message_info">'
    )
    if post.views is not None:
        parts.append(f'<span class="tgme_widget_message_views">{escape(post.views)}</span>')
    parts.append(
        f'<span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="{link}">'
    )
    stamp = post.raw_datetime
    if stamp is None and post.published is not None:
        moment = post.published if post.published.tzinfo else post.published.replace(tzinfo=UTC)
        stamp = moment.isoformat()
    if stamp is not None:
        parts.append(f'<time datetime="{escape(stamp)}" class="time">12:00</time>')
    parts.append("</a></span></div></div></div></div></div>")
    return "".join(parts)


def render_channel(channel: Channel, base: str, before: int | None = None) -> str:
    """The preview page: the newest ``page_size`` posts older than ``before`` (all if None)."""
    older = sorted((p for p in channel.posts if before is None or p.id < before), key=_id)
    shown = older[-channel.page_size :] if channel.page_size else older
    more = ""
    if shown and len(older) > len(shown):
        first = shown[0].id
        more = (
            f'<a class="tme_messages_more js-messages_more" data-before="{first}" '
            f'href="/s/{channel.name}?before={first}"></a>'
        )
    posts = "\n".join(render_post(channel, post, base) for post in shown)
    title = escape(channel.title)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f'<title>{title} – Telegram</title><meta property="og:title" content="{title}">'
        '</head><body class="widget_frame_base tgme_webpreview">'
        '<div class="tgme_channel_info"><div class="tgme_channel_info_header">'
        f'<div class="tgme_channel_info_header_title"><span dir="auto">{title}</span></div>'
        f'<div class="tgme_channel_info_header_username"><a href="{base}/{channel.name}">'
        f"@{channel.name}</a></div></div></div>"
        '<main class="tgme_main"><section class="tgme_channel_history js-message_history">'
        f"{more}\n{posts}\n</section></main></body></html>"
    )


def add_channel(room: Newsroom, channel: Channel, host: int = 0) -> str:
    """Serve ``channel`` at ``/s/NAME`` on ``host`` of ``room``; its preview URL."""

    def answer(request: Request) -> Reply:
        values = parse_qs(request.query).get("before", [])
        before = int(values[0]) if values and values[0].isdigit() else None
        body = render_channel(channel, room.base(host), before).encode("utf-8")
        return Reply(body=body, headers={"Content-Type": "text/html; charset=utf-8"})

    room.route(f"/s/{channel.name}", answer, host)
    return room.url(f"/s/{channel.name}", host)


def channels_config(path: Path, room: Newsroom, channels: list[str], extra: str = "") -> Path:
    """A config.toml at ``path`` polling ``channels`` of ``room`` (as sources ``tg NAME``),
    on a SQLite database beside it; ``extra``: more TOML at the end."""
    db = path.parent / "data" / "mediawatch.db"
    sources = "".join(
        f'[[sources]]\nname = "tg {name}"\nurl = "{room.url(f"/s/{name}")}"\nkind = "telegram"\n\n'
        for name in channels
    )
    path.write_text(
        f'[storage]\nurl = "sqlite:///{db}"\n\n[crawl]\nallow_private_networks = true\n'
        'timeout = "3s"\ndelay = "1ms"\nconcurrency_per_domain = 8\n'
        "max_response_bytes = 2000000\n\n"
        '[[clusters]]\nname = "Peshmerga"\nterms = ["Peshmerga"]\n\n'
        f"{sources}{extra}",
        encoding="utf-8",
    )
    return path


def _id(post: Post) -> int:
    return post.id
