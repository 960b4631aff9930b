"""Rendering the newsroom's articles and feeds: realistic article pages (navigation,
share bar, related links, comments, footer around the story) and feeds in every format
(RSS 2.0, Atom, RDF, JSON Feed, Google-News-style RSS, news sitemaps)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from support.newsroom import Article, Feed, Newsroom

SITE_NAMES = ("Newsroom Daily", "Wire Review", "Gulf Observer")


def _iso(moment: datetime | None) -> str:
    return (moment or datetime(2026, 11, 20, 8, 0)).replace(tzinfo=UTC).isoformat()


def _rfc822(moment: datetime | None) -> str:
    return format_datetime((moment or datetime(2026, 11, 20, 8, 0)).replace(tzinfo=UTC))


def render_article(room: Newsroom, article: Article) -> str:
    site = SITE_NAMES[article.host % len(SITE_NAMES)]
    rtl = article.language in ("ar", "fa")
    canonical = ""
    if article.canonical:
        href = (
            article.canonical
            if "://" in article.canonical
            else room.url(article.canonical, article.host)
        )
        canonical = f'<link rel="canonical" href="{escape(href)}">'
    paragraphs = "\n".join(f"<p>{escape(text)}</p>" for text in article.paragraphs)
    byline = (
        f'<p class="byline">By <span class="author">{escape(article.author)}</span></p>'
        if (article.author)
        else ""
    )
    published = _iso(article.published)
    nav = " | ".join(
        f'<a href="/section/{name.lower()}">{name}</a>'
        for name in ("World", "Politics", "Business", "Sport", "Opinion", "Video")
    )
    return f"""<!DOCTYPE html>
<html lang="{article.language}" dir="{"rtl" if rtl else "ltr"}">
<head>
<meta charset="utf-8">
<title>{escape(article.title)} | {site}</title>
<meta property="og:title" content="{escape(article.title)}">
<meta property="og:type" content="article">
<meta property="article:published_time" content="{published}">
<meta name="author" content="{escape(article.author or "")}">
{canonical}
<script>window.dataLayer = window.dataLayer || [];
function track(e) {{ dataLayer.push(e); }}</script>
<style>body {{ font-family: serif; }} .ad {{ height: 250px; }}</style>
</head>
<body>
<header class="site-header">
  <div class="logo"><a href="/">{site}</a></div>
  <nav class="main-nav">{nav}</nav>
  <div class="ticker">Breaking: markets close higher | Weather: sunny, 31°C</div>
  <form class="search"><input name="q" placeholder="Search"><button>Go</button></form>
</header>
<div class="ad ad-top">Advertisement</div>
<main>
<article class="story">
  <h1 class="headline">{escape(article.title)}</h1>
  {byline}
  <time datetime="{published}">{published[:10]}</time>
  <div class="share">Share: <a href="#">Facebook</a> <a href="#">X</a>
    <a href="#">WhatsApp</a></div>
  <div class="story-body">
{paragraphs}
  </div>
</article>
<aside class="related">
  <h2>Most read</h2>
  <ul>
    <li><a href="/news/football-cup-final.html">Cup final ends in penalty drama</a></li>
    <li><a href="/news/recipes-ramadan.html">Ten dishes for the holidays</a></li>
    <li><a href="/news/markets-weekly.html">Markets weekly: oil steady</a></li>
  </ul>
</aside>
<section class="comments" id="comments">
  <h2>Comments (3)</h2>
  <div class="comment"><b>reader_77</b><p>First! Great reporting as always.</p></div>
  <div class="comment"><b>anon</b><p>Who pays for this? Follow the money.</p></div>
  <div class="comment"><b>basra_man</b><p>The electricity was cut again in our street.</p></div>
</section>
</main>
<footer class="site-footer">
  <p>© 2026 {site}. All rights reserved. <a href="/about">About us</a>
  <a href="/privacy">Privacy</a>
  <a href="/contact">Contact</a></p>
  <p>Subscribe to our newsletter for the day's top stories.</p>
</footer>
</body>
</html>
"""


def _link(room: Newsroom, feed: Feed, article: Article) -> str:
    link = room.url(article.path, article.host)
    return f"{link}?{feed.link_query}" if feed.link_query else link


def render_feed(room: Newsroom, feed: Feed) -> bytes:
    text = {
        "rss": _rss,
        "google-news": _google_news,
        "atom": _atom,
        "rdf": _rdf,
        "json": _json,
        "news-sitemap": _news_sitemap,
    }[feed.kind](room, feed)
    body = text.encode(feed.encoding, errors="xmlcharrefreplace")
    return (b"\xef\xbb\xbf" + body) if feed.bom else body


def _prolog(feed: Feed) -> str:
    return f'<?xml version="1.0" encoding="{feed.encoding}"?>\n'


def _rss(room: Newsroom, feed: Feed) -> str:
    items = "".join(
        f"""<item><title>{escape(a.title)}</title><link>{escape(_link(room, feed, a))}</link>
<guid isPermaLink="false">{escape(a.path)}</guid><pubDate>{_rfc822(a.published)}</pubDate>
<description>{escape(f"<p>{a.summary}</p>")}</description></item>
"""
        for a in feed.articles
    )
    ttl = f"<ttl>{feed.ttl}</ttl>" if feed.ttl else ""
    return (
        _prolog(feed)
        + f"""<rss version="2.0"><channel><title>{escape(feed.title)}</title>
<link>{room.base(feed.host)}/</link><description>Latest news</description>
<language>{feed.articles[0].language if feed.articles else "en"}</language>{ttl}
{items}{feed.extra_items}</channel></rss>"""
    )


def _google_news(room: Newsroom, feed: Feed) -> str:
    """Like news.google.com/rss: links through the aggregator, ``<source>`` per item."""
    items = ""
    for number, a in enumerate(feed.articles):
        publisher = SITE_NAMES[a.host % len(SITE_NAMES)]
        items += f"""<item><title>{escape(a.title)} - {publisher}</title>
<link>{room.url(f"/gnews/rss/articles/{number}", feed.host)}</link>
<guid isPermaLink="false">gnews-{number}</guid><pubDate>{_rfc822(a.published)}</pubDate>
<description>{escape(a.summary)}</description>
<source url="{room.base(a.host)}">{publisher}</source></item>
"""
    return (
        _prolog(feed)
        + f"""<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>
<title>{escape(feed.title)}</title><link>{room.base(feed.host)}/gnews</link>
<language>en-US</language>{items}</channel></rss>"""
    )


def _atom(room: Newsroom, feed: Feed) -> str:
    entries = "".join(
        f"""<entry><title>{escape(a.title)}</title>
<link rel="alternate" type="text/html" href="{escape(_link(room, feed, a))}"/>
<id>tag:newsroom,2026:{escape(a.path)}</id><updated>{_iso(a.published)}</updated>
<published>{_iso(a.published)}</published>
<author><name>{escape(a.author or "Staff")}</name></author>
<summary>{escape(a.summary)}</summary></entry>
"""
        for a in feed.articles
    )
    language = feed.articles[0].language if feed.articles else "en"
    return (
        _prolog(feed)
        + f"""<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{language}">
<title>{escape(feed.title)}</title><id>tag:newsroom,2026:{feed.path}</id>
<updated>{_iso(None)}</updated><link rel="self" href="{room.url(feed.path, feed.host)}"/>
{entries}{feed.extra_items}</feed>"""
    )


def _rdf(room: Newsroom, feed: Feed) -> str:
    seq = "".join(f'<rdf:li rdf:resource="{escape(_link(room, feed, a))}"/>' for a in feed.articles)
    items = "".join(
        f"""<item rdf:about="{escape(_link(room, feed, a))}"><title>{escape(a.title)}</title>
<link>{escape(_link(room, feed, a))}</link><description>{escape(a.summary)}</description>
<dc:date>{_iso(a.published)}</dc:date><dc:language>{a.language}</dc:language></item>
"""
        for a in feed.articles
    )
    return (
        _prolog(feed)
        + f"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">
<channel rdf:about="{room.url(feed.path, feed.host)}"><title>{escape(feed.title)}</title>
<link>{room.base(feed.host)}/</link><description>RDF edition</description>
<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>
<items><rdf:Seq>{seq}</rdf:Seq></items></channel>
{items}</rdf:RDF>"""
    )


def _json(room: Newsroom, feed: Feed) -> str:
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": feed.title,
            "home_page_url": room.base(feed.host) + "/",
            "feed_url": room.url(feed.path, feed.host),
            "language": feed.articles[0].language if feed.articles else "en",
            "items": [
                {
                    "id": a.path,
                    "url": _link(room, feed, a),
                    "title": a.title,
                    "summary": a.summary,
                    "date_published": _iso(a.published),
                    "authors": [{"name": a.author}] if a.author else [],
                }
                for a in feed.articles
            ],
        },
        ensure_ascii=False,
    )


def _news_sitemap(room: Newsroom, feed: Feed) -> str:
    urls = "".join(
        f"""<url><loc>{escape(_link(room, feed, a))}</loc>
<news:news><news:publication><news:name>{SITE_NAMES[a.host % 3]}</news:name>
<news:language>{a.language}</news:language></news:publication>
<news:publication_date>{_iso(a.published)}</news:publication_date>
<news:title>{escape(a.title)}</news:title></news:news></url>
"""
        for a in feed.articles
    )
    return (
        _prolog(feed)
        + """<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
 xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
"""
        + urls
        + feed.extra_items
        + "</urlset>"
    )
