"""The standard newsroom: the stories of ``newsroom_stories`` and more, feeds in every
format, one wire story syndicated by three publishers, and the hostile endpoints.

``STANDARD_SOURCES`` lists (name, host, path, kind) of the sources a test config uses;
``HOSTILE`` names the ones that must end in a recorded error; ``sources_toml`` writes them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support.newsroom import (
    Article,
    Feed,
    Newsroom,
    Reply,
    bomb_reply,
    page,
    redirect,
    text_reply,
)
from support.newsroom_stories import ARABIC_STORIES, STORIES, WIRE_TEXT, WIRE_TITLE


def _ago(hours: float) -> datetime:
    return (datetime.now(UTC) - timedelta(hours=hours)).replace(tzinfo=None, microsecond=0)


def _article(host: int, story: dict[str, object], hours: float, language: str = "en") -> Article:
    return Article(
        host=host,
        path=str(story["path"]),
        title=str(story["title"]),
        paragraphs=tuple(story["paragraphs"]),  # type: ignore[arg-type]
        language=language,
        published=_ago(hours),
        author=str(story["author"]),
        summary=str(story["paragraphs"][0])[:160],  # type: ignore[index]
    )


def _simple(host: int, path: str, title: str, text: str, hours: float, **extra: object) -> Article:
    sentences = [s.strip() + "." for s in text.split(".") if s.strip()]
    paragraphs = tuple(" ".join(sentences[i : i + 2]) for i in range(0, len(sentences), 2))
    return Article(
        host,
        path,
        title,
        paragraphs,
        published=_ago(hours),
        summary=sentences[0],
        author="Staff reporter",
        **extra,
    )  # type: ignore[arg-type]


STANDARD_SOURCES: list[tuple[str, int, str, str]] = [
    ("Newsroom Daily RSS", 0, "/feeds/rss.xml", "feed"),
    ("Newsroom Daily Arabic Atom", 0, "/feeds/arabic.atom", "feed"),
    ("Wire Review RSS", 1, "/feeds/rss.xml", "feed"),
    ("Wire Review RDF", 1, "/feeds/rdf.xml", "feed"),
    ("Wire Review JSON", 1, "/feeds/feed.json", "feed"),
    ("Gulf Observer sitemap", 2, "/sitemap_index.xml", "sitemap"),
    ("Aggregator (Google News style)", 0, "/gnews/rss", "feed"),
    ("Bozo feed", 0, "/feeds/bozo.xml", "feed"),
    ("Arabic cp1256 feed", 0, "/feeds/arabic-1256.xml", "feed"),
    ("Windows-1252 feed", 0, "/feeds/latin.xml", "feed"),
    ("BOM feed", 0, "/feeds/bom.xml", "feed"),
    ("Garbage feed", 0, "/feeds/garbage.xml", "feed"),
    ("Broken server", 0, "/feeds/error500.xml", "feed"),
    ("Rate limited", 0, "/feeds/ratelimited.xml", "feed"),
    ("Slow feed", 0, "/feeds/slow.xml", "feed"),
    ("Gzip bomb feed", 0, "/feeds/bomb.xml", "feed"),
    ("Oversized feed", 0, "/feeds/huge.xml", "feed"),
    ("Redirect loop", 0, "/feeds/loop.xml", "feed"),
    ("Metadata redirect", 0, "/feeds/metadata.xml", "feed"),
]
HOSTILE = {
    "Garbage feed",
    "Broken server",
    "Rate limited",
    "Slow feed",
    "Gzip bomb feed",
    "Oversized feed",
    "Redirect loop",
    "Metadata redirect",
}
HOSTILE_PAGES = (
    "/news/slow-page.html",
    "/news/huge-page.html",
    "/news/bomb-page.html",
    "/news/gone.html",
    "/news/loop-a.html",
    "/private/members-only.html",
)
SLOW_SECONDS = 6.0
OVERSIZED_BYTES = 3_000_000


def sources_toml(room: Newsroom, names: set[str] | None = None) -> str:
    out = []
    for name, host, path, kind in STANDARD_SOURCES:
        if names is None or name in names:
            out.append(
                f'[[sources]]\nname = "{name}"\nurl = "{room.url(path, host)}"\nkind = "{kind}"\n'
            )
    return "\n".join(out)


def build_standard(room: Newsroom) -> None:
    room.route("/robots.txt", text_reply("User-agent: *\nDisallow: /private/\n"))
    english = [_article(0, story, hours=2 + i) for i, story in enumerate(STORIES)]
    arabic = [_article(0, story, 3 + i, "ar") for i, story in enumerate(ARABIC_STORIES)]
    wire = [
        Article(
            host,
            path,
            WIRE_TITLE,
            WIRE_TEXT + extra,
            published=_ago(5),
            author="Wire staff",
            summary=WIRE_TEXT[0][:150],
        )
        for host, path, extra in (
            (0, "/news/2026/11/peshmerga-joint-patrols.html", ()),
            (1, "/wire/peshmerga-iraqi-army-joint-patrols", ("Reporting by wire staff.",)),
            (2, "/world/peshmerga-patrols.html", ()),
        )
    ]
    for article in english + arabic + wire:
        room.add_article(article)
    _hostile_pages(room)
    hostile = [
        _simple(0, path, f"Hostile page {path}", f"The feed summary of {path}. It stands in.", 1)
        for path in HOSTILE_PAGES
    ]
    redirected = _simple(
        0,
        "/news/moved.html",
        "Ministry statement moved to a new address",
        "The Interior Ministry issued a statement on police reform. The "
        "page moved to a new address last week. Readers are redirected.",
        2,
    )
    busy = _simple(
        0,
        "/news/busy.html",
        "Busy server story on Hezbollah and Nasrallah",
        "Hassan Nasrallah gave a speech about the border. The server was busy at "
        "first. A second request after the Retry-After delay succeeded.",
        2,
    )
    room.add_article(busy)
    room.route("/news/busy.html", _busy_then(room, busy))
    room.add_feed(
        Feed(
            0,
            "/feeds/rss.xml",
            "rss",
            "Newsroom Daily",
            [*english, wire[0], redirected, busy, *hostile],
            ttl=30,
        )
    )
    room.add_feed(Feed(0, "/feeds/arabic.atom", "atom", "نيوزروم", arabic))
    _wire_review(room, wire[1])
    _gulf_observer(room, wire[2])
    _malformed_feeds(room)
    _hostile_feeds(room)


def _busy_then(room: Newsroom, article: Article):  # type: ignore[no-untyped-def]
    served = {"count": 0}

    def route(request):  # type: ignore[no-untyped-def]
        served["count"] += 1
        if served["count"] == 1:
            return Reply(429, b"slow down", {"Retry-After": "1", "Content-Type": "text/plain"})
        return room._article_reply(article)

    return route


def _hostile_pages(room: Newsroom) -> None:
    room.route(
        "/news/slow-page.html",
        Reply(200, b"<html>late</html>", {"Content-Type": "text/html"}, delay=SLOW_SECONDS),
    )
    room.route(
        "/news/huge-page.html",
        page("<html><body>" + "<p>filler text</p>" * (OVERSIZED_BYTES // 18) + "</body></html>"),
    )
    room.route("/news/bomb-page.html", bomb_reply())
    room.route("/news/loop-a.html", redirect("/news/loop-b.html"))
    room.route("/news/loop-b.html", redirect("/news/loop-a.html"))
    room.route("/news/moved.html", redirect("/news/2026/11/ministry-statement.html"))
    room.add_article(
        _simple(
            0,
            "/news/2026/11/ministry-statement.html",
            "Ministry statement moved to a new address",
            "The Interior Ministry issued a statement on police reform in "
            "Baghdad. It promised new recruitment rules and vetting. Officers "
            "with ties to armed factions would be reviewed by a committee.",
            2,
        )
    )
    # /news/gone.html is not routed: 404. /private/ is disallowed by robots.txt.


def _wire_review(room: Newsroom, wire: Article) -> None:
    strikes = _simple(
        1,
        "/world/israeli-strikes-syria",
        "Israeli strikes hit weapons depots near Damascus",
        "Israeli jets struck weapons depots near Damascus "
        "overnight. Syrian state media said air defences intercepted some "
        "missiles. A monitoring group said fighters from Iran-backed groups "
        "were among the dead.",
        3,
    )
    hezbollah = _simple(
        1,
        "/world/nasrallah-speech",
        "Nasrallah says Hezbollah ready for long war",
        "Hezbollah leader Hassan Nasrallah said his group was "
        "prepared for a long confrontation. He spoke by video link to "
        "supporters in Beirut's southern suburbs. Lebanese officials urged "
        "calm.",
        4,
    )
    json_story = _simple(
        1,
        "/world/erbil-airport-drone",
        "Drone attack on Erbil airport base repelled",
        "A drone targeting the base at Erbil airport was "
        "shot down. The base hosts US troops of the coalition. No one was "
        "hurt, the Kurdistan region's counter-terrorism service said.",
        1,
    )
    for article in (strikes, hezbollah, json_story):
        room.add_article(article)
    room.add_feed(Feed(1, "/feeds/rss.xml", "rss", "Wire Review", [wire]))
    room.add_feed(Feed(1, "/feeds/rdf.xml", "rdf", "Wire Review (RDF)", [strikes, hezbollah]))
    room.add_feed(
        Feed(
            1,
            "/feeds/feed.json",
            "json",
            "Wire Review (JSON)",
            [json_story],
            link_query="utm_source=jsonfeed&utm_medium=feed&fbclid=abc123",
        )
    )


def _gulf_observer(room: Newsroom, wire: Article) -> None:
    fresh = _simple(
        2,
        "/world/basra-governor.html",
        "Basra governor sacks electricity chief",
        "The governor of Basra dismissed the head of the "
        "province's electricity directorate. Protests over power cuts continued "
        "for a third day. The ministry in Baghdad promised an inquiry.",
        2,
    )
    old = _simple(
        2,
        "/world/2019/05/old-story.html",
        "An old story from 2019",
        "This archived story is years old. It must not be followed.",
        24 * 900,
    )
    for article in (fresh, old):
        room.add_article(article)
    room.add_feed(Feed(2, "/sitemaps/news.xml", "news-sitemap", "news", [fresh, wire]))
    room.add_feed(Feed(2, "/sitemaps/archive-2019.xml", "news-sitemap", "archive", [old]))
    room.route(
        "/sitemap_index.xml",
        lambda _r: text_reply(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{room.url('/sitemaps/news.xml', 2)}</loc>"
            f"<lastmod>{_ago(1).isoformat()}Z</lastmod></sitemap>"
            f"<sitemap><loc>{room.url('/sitemaps/archive-2019.xml', 2)}</loc>"
            "<lastmod>2019-05-31T00:00:00Z</lastmod></sitemap></sitemapindex>",
            "application/xml",
        ),
        2,
    )
    # Google-News-style aggregator on host 0: links redirect to the publishers.
    room.add_feed(Feed(0, "/gnews/rss", "google-news", "Iraq - Google News", [fresh, wire]))
    for number, article in enumerate((fresh, wire)):
        room.route(
            f"/gnews/rss/articles/{number}", redirect(room.url(article.path, article.host), 302)
        )


def _malformed_feeds(room: Newsroom) -> None:
    bozo = _simple(
        0,
        "/news/bozo-story.html",
        "Story from a broken feed",
        "Officials in Kirkuk met tribal leaders about security. The feed that "
        "lists this story is not well-formed XML. It still has an entry.",
        3,
    )
    room.add_article(bozo)
    room.route(
        "/feeds/bozo.xml",
        text_reply(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Broken & proud</title>'
            f"<item><title>{bozo.title}</title><link>{room.url(bozo.path)}</link>"
            "<description>Unescaped & ampersands <b>and unclosed tags</description></item>"
            "</channel>",
            "application/rss+xml",
        ),
    )
    room.route(
        "/feeds/garbage.xml",
        Reply(200, bytes(range(256)) * 40, {"Content-Type": "application/rss+xml"}),
    )
    arabic = _simple(
        0,
        "/ar/news/cp1256-story.html",
        "تظاهرات في الناصرية للمطالبة بفرص العمل",
        "خرج مئات الشباب في الناصرية للمطالبة بفرص العمل. وقطع المتظاهرون "
        "جسرا رئيسيا في المدينة. ووعدت الحكومة المحلية بتوفير وظائف",
        2,
    )
    arabic.language = "ar"
    latin = _simple(
        0,
        "/news/latin-story.html",
        "Café owners in Erbil say “business is back”",
        "Café owners in Erbil’s old bazaar say tourists are returning. Hotels "
        "report full bookings for the holidays. The airport added new routes.",
        2,
    )
    bom = _simple(
        0,
        "/news/bom-story.html",
        "Feed with a byte order mark lists Mosul rebuild",
        "Reconstruction of Mosul's old city reached the al-Nuri mosque. Engineers "
        "restored the leaning minaret. Residents returned to rebuilt homes.",
        2,
    )
    for article in (arabic, latin, bom):
        room.add_article(article)
    room.add_feed(
        Feed(0, "/feeds/arabic-1256.xml", "rss", "أخبار", [arabic], encoding="windows-1256")
    )
    room.add_feed(Feed(0, "/feeds/latin.xml", "rss", "Café news", [latin], encoding="windows-1252"))
    room.add_feed(Feed(0, "/feeds/bom.xml", "rss", "BOM news", [bom], bom=True))


def _hostile_feeds(room: Newsroom) -> None:
    room.route(
        "/feeds/error500.xml", Reply(500, b"Internal Server Error", {"Content-Type": "text/plain"})
    )
    room.route(
        "/feeds/ratelimited.xml",
        Reply(429, b"Too Many Requests", {"Retry-After": "3600", "Content-Type": "text/plain"}),
    )
    room.route(
        "/feeds/slow.xml",
        Reply(200, b"<rss/>", {"Content-Type": "application/rss+xml"}, delay=SLOW_SECONDS),
    )
    room.route("/feeds/bomb.xml", bomb_reply("application/rss+xml"))
    room.route(
        "/feeds/huge.xml",
        Reply(
            200,
            b"<rss>" + b" " * OVERSIZED_BYTES + b"</rss>",
            {"Content-Type": "application/rss+xml"},
        ),
    )
    room.route("/feeds/loop.xml", redirect("/feeds/loop2.xml"))
    room.route("/feeds/loop2.xml", redirect("/feeds/loop.xml"))
    room.route("/feeds/metadata.xml", redirect("http://169.254.169.254/latest/meta-data/", 302))
