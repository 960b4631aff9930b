"""Listing pages without a feed: article links found by CSS selectors or by their shape."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spiders.parsing.canonical import registrable_domain
from spiders.parsing.listing import ListedLink, check_selectors, find_article_links

# An English news site's section page: a hero card, a grid of cards (image link + headline
# link + "Read more" to the same story), a most-read sidebar, a menu and a footer.
ENGLISH = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Middle East | The Daily Example</title></head>
<body>
<header class="site-header">
  <a class="logo" href="/">The Daily Example</a>
  <nav><ul>
    <li><a href="/world/">World</a></li><li><a href="/world/middle-east/">Middle East</a></li>
    <li><a href="/opinion/">Opinion</a></li><li><a href="/search?q=">Search</a></li>
  </ul></nav>
  <a href="/2026/11/20/breaking-banner-story-about-everything-here">Breaking: a banner
  headline that runs across the page header</a>
</header>
<main>
  <div class="hero">
    <article class="story story--lead">
      <header><h1><a href="/world/middle-east/2026/11/20/iraq-militias-strike-base?utm_source=hp">
        Iraqi militias claim drone strike on base near the Syrian border</a></h1></header>
      <time datetime="2026-11-20T09:30:00+03:00">20 November 2026</time>
    </article>
  </div>
  <section class="grid">
    <div class="card card-1">
      <a href="/world/middle-east/2026/11/20/basra-oil-protests#comments">
        <img src="/img/a.jpg" alt=""></a>
      <h3 class="card__title"><a href="/world/middle-east/2026/11/20/basra-oil-protests">
        Basra protesters block oil field road for a third day</a></h3>
      <span class="date">Nov 20, 2026</span>
      <a class="more" href="/world/middle-east/2026/11/20/basra-oil-protests">Read more</a>
    </div>
    <div class="card card-2">
      <a href="/world/middle-east/2026/11/19/kurdistan-budget-talks">
        <img src="/img/b.jpg" alt=""></a>
      <h3 class="card__title">Kurdistan and Baghdad resume talks on the budget</h3>
      <a class="more" href="/world/middle-east/2026/11/19/kurdistan-budget-talks">Read more</a>
    </div>
    <div class="card card-3">
      <h3 class="card__title"><a href="https://www.dailyexample.com/world/middle-east/2026/11/19/pmf-law-vote">
        Parliament delays vote on the Popular Mobilisation law</a></h3>
      <time datetime="2026-11-19">19 Nov</time>
    </div>
    <div class="card card-4">
      <h3 class="card__title"><a href="/tag/iraq/">Everything we wrote about Iraq this year</a></h3>
    </div>
  </section>
</main>
<aside class="most-read"><ol>
  <li><a href="/world/2026/11/01/most-read-story-from-earlier-this-month">
    A most-read story from earlier this month</a></li>
  <li><a href="/world/2026/11/02/another-most-read-story-from-this-month">
    Another most-read story from this month</a></li>
</ol></aside>
<footer><ul>
  <li><a href="/about/">About us</a></li><li><a href="/privacy/">Privacy policy</a></li>
  <li><a href="/world/2026/10/01/the-story-of-our-newsroom-and-how-we-work">The story of our
  newsroom and how we work</a></li>
</ul></footer>
</body></html>"""
ENGLISH_BASE = "https://www.dailyexample.com/world/middle-east/"

# An Arabic outlet's news list: numeric ids with percent-encoded or raw Arabic slugs, dates
# written in the item, and a pager.
ARABIC_SLUG = "الفصائل-المسلحة-تعلن-استهداف-قاعدة"
ARABIC = f"""<!DOCTYPE html>
<html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>آخر الأخبار</title></head>
<body>
<div id="menu"><ul class="menu">
  <li><a href="/section/iraq">العراق</a></li><li><a href="/section/politics">سياسة</a></li>
</ul></div>
<div class="content">
  <ul class="news-list">
    <li class="news-item"><a href="/news/2026/11/20/{quote(ARABIC_SLUG)}">
      الفصائل المسلحة تعلن استهداف قاعدة عين الأسد بطائرة مسيرة</a>
      <span class="time">2026-11-20 08:15</span></li>
    <li class="news-item"><a href="/news/4123456">
    البرلمان العراقي يؤجل التصويت على قانون الحشد الشعبي</a>
      <span class="time">2026-11-19 21:40</span></li>
    <li class="news-item"><a href="/news/2026/11/19/{ARABIC_SLUG}">
      الفصائل المسلحة تعلن استهداف قاعدة عين الأسد بطائرة مسيرة (محدث)</a></li>
    <li class="news-item"><a href="/news/4123400">عاجل</a></li>
  </ul>
  <div class="pager"><a href="/news?page=2">التالي</a> <a href="/news/page/3">3</a></div>
</div>
</body></html>"""
ARABIC_BASE = "https://www.example-iq.net/news"

# A Persian site with everything that is not a story: menus, footers, social links, assets.
NOISY = """<html dir="rtl" lang="fa"><body>
<div role="navigation"><a href="/fa/news/politics-and-parliament-section-page-listing">سیاست
  و مجلس: همه خبرهای بخش سیاست</a><a href="/fa/news/economy-and-oil-section-listing-page">
    اقتصاد</a></div>
<div class="list">
  <div class="item"><h2><a href="/fa/news/12345678/حمله-پهپادی-به-پایگاه">حمله پهپادی به پایگاه
    نظامی در مرز سوریه</a></h2></div>
  <div class="item"><h2><a href="javascript:void(0)">حمله پهپادی جدید به پایگاه نظامی</a></h2></div>
  <div class="item"><h2><a href="mailto:desk@example-fa.ir">
    تماس با تحریریه خبرگزاری ما</a></h2></div>
  <div class="item"><h2><a href="https://twitter.com/example/status/123456789">
    در توییتر ما را دنبال کنید</a></h2></div>
  <div class="item"><h2><a href="/static/report-2026-11-20-full-text.pdf">
    گزارش کامل نشست امروز مجلس</a></h2></div>
  <div class="item"><h2><a href="/author/ali-rezaei-senior-correspondent">
    علی رضایی، خبرنگار ارشد سیاسی</a></h2></div>
  <div class="item"><h2><a href="http://[oops/news/12345679/broken">
    نشانی خراب که نباید بیاید</a></h2></div>
  <div class="item"><h2><a
    href="/fa/news/12345680/%D8%A7%D9%86%D8%AA%D8%AE%D8%A7%D8%A8%D8%A7%D8%AA">
    انتخابات
    مجلس در موعد مقرر برگزار می‌شود</a></h2></div>
</div>
<div class="footer"><div role="contentinfo"><a href="/fa/news/12345690/about-our-agency-history">
    درباره
  خبرگزاری و تاریخچه آن از آغاز</a></div></div>
</body></html>"""
NOISY_BASE = "https://www.example-fa.ir/fa/news"

# The second page of a paginated archive: WordPress-style links, ?p= ids, a numbered pager.
PAGE_TWO = """<html><body><div id="primary">
<div class="post"><h2 class="entry-title"><a
    href="https://blog.example.org/2026/11/ceasefire-talks-resume-in-doha/">
    Ceasefire talks resume in Doha after a week of strikes</a></h2>
  <div class="entry-meta"><span itemprop="datePublished" content="2026-11-18T10:00:00Z">
    18 November</span></div></div>
<div class="post"><h2 class="entry-title"><a href="https://example.org/?p=48213">
    Aid convoys wait at the crossing for a fifth day</a></h2></div>
<div class="post"><h2 class="entry-title"><a
    href="https://example.org/2026/11/ceasefire-talks-resume-in-doha/#respond">
    Ceasefire talks resume in Doha</a></h2></div>
<nav class="navigation pagination"><a class="page-numbers" href="/page/1/">1</a>
  <a class="page-numbers" href="/page/3/">
    3</a><a class="next" href="/page/3/">Older posts from the archive of this blog</a></nav>
<div class="nav-links"><a href="https://example.org/?paged=3">
    Older posts from the archive of this blog</a></div>
</div></body></html>"""
PAGE_TWO_BASE = "https://example.org/page/2/"


def urls(links: list[ListedLink]) -> list[str]:
    return [link.url for link in links]


def test_english_cards_give_headlines_in_page_order_without_chrome() -> None:
    links = find_article_links(ENGLISH.encode(), ENGLISH_BASE)
    base = "https://www.dailyexample.com/world/middle-east/2026/11/"
    assert urls(links) == [
        base + "20/iraq-militias-strike-base",  # tracker and fragment dropped
        base + "20/basra-oil-protests",
        base + "19/kurdistan-budget-talks",
        base + "19/pmf-law-vote",
    ]
    lead, basra, kurdistan, vote = links
    assert lead.title == "Iraqi militias claim drone strike on base near the Syrian border"
    assert lead.published == datetime(2026, 11, 20, 6, 30)  # naive UTC
    assert basra.title == "Basra protesters block oil field road for a third day"
    assert basra.published == datetime(2026, 11, 20)  # "Nov 20, 2026" written in the card
    assert kurdistan.title == "Kurdistan and Baghdad resume talks on the budget"  # card heading
    assert kurdistan.published is None
    assert vote.published == datetime(2026, 11, 19)


def test_arabic_list_with_encoded_and_raw_slugs() -> None:
    links = find_article_links(ARABIC.encode("utf-8"), ARABIC_BASE)
    encoded = quote(ARABIC_SLUG)
    assert urls(links) == [
        f"https://www.example-iq.net/news/2026/11/20/{encoded}",
        "https://www.example-iq.net/news/4123456",
        f"https://www.example-iq.net/news/2026/11/19/{encoded}",  # raw slug, same spelling
    ]
    assert links[0].title == "الفصائل المسلحة تعلن استهداف قاعدة عين الأسد بطائرة مسيرة"
    assert links[0].published == datetime(2026, 11, 20, 8, 15)
    assert links[1].published == datetime(2026, 11, 19, 21, 40)
    assert links[2].published is None


def test_arabic_page_in_a_legacy_encoding() -> None:
    page = ARABIC.replace('charset="utf-8"', 'charset="windows-1256"').encode("cp1256")
    assert len(find_article_links(page, ARABIC_BASE)) == 3


def test_noise_is_left_out() -> None:
    links = find_article_links(NOISY, NOISY_BASE)
    assert urls(links) == [
        "https://www.example-fa.ir/fa/news/12345678/" + quote("حمله-پهپادی-به-پایگاه"),
        "https://www.example-fa.ir/fa/news/12345680/%D8%A7%D9%86%D8%AA%D8%AE%D8%A7%D8%A8%D8%A7%D8%AA",
    ]
    assert links[0].title == "حمله پهپادی به پایگاه نظامی در مرز سوریه"
    assert links[1].title == "انتخابات مجلس در موعد مقرر برگزار می‌شود"


# A Drupal-era site built from divs: row classes that differ by number and state, a footer
# and a sidebar known only by their id and class, and a link in a paragraph of prose.
DRUPAL = """<html><body>
<div class="intro"><p>Our coverage of the elections continues; see <a
  href="/ar/node/777777">the timeline of the vote and its results so far</a>.</p></div>
<div class="view-content">
  <div class="views-row views-row-1 views-row-odd views-row-first"><span class="field-content">
    <a href="/ar/node/123456">نتائج أولية تظهر تقدم الائتلاف في بغداد</a></span></div>
  <div class="views-row views-row-2 views-row-even"><span class="field-content">
    <a href="/ar/node/123455">المفوضية تعلن نسبة المشاركة في الانتخابات</a></span></div>
  <div class="views-row views-row-3 views-row-odd views-row-last"><span class="field-content">
    <a href="/ar/node/123454">مراقبون دوليون يصفون الاقتراع بالهادئ</a></span></div>
</div>
<div class="region sidebar"><ul>
  <li><a href="/ar/node/888888">الأكثر قراءة: خبر قديم من الأسبوع الماضي</a></li>
  <li><a href="/ar/node/888887">الأكثر قراءة: خبر آخر من الأسبوع الماضي</a></li></ul></div>
<div id="footer"><ul><li><a href="/ar/node/999999">من نحن وكيف نعمل في غرفة الأخبار</a></li>
  <li><a href="/ar/node/999998">سياسة الخصوصية وشروط الاستخدام للموقع</a></li></ul></div>
</body></html>"""


def test_div_built_rows_footer_and_sidebar() -> None:
    links = find_article_links(DRUPAL, "https://www.example-iq.net/ar/news")
    assert urls(links) == [
        "https://www.example-iq.net/ar/node/123456",
        "https://www.example-iq.net/ar/node/123455",
        "https://www.example-iq.net/ar/node/123454",
    ]


def test_paginated_archive_keeps_posts_and_skips_the_pager() -> None:
    links = find_article_links(PAGE_TWO, PAGE_TWO_BASE)
    assert urls(links) == [
        "https://blog.example.org/2026/11/ceasefire-talks-resume-in-doha/",  # same site
        "https://example.org/?p=48213",
        "https://example.org/2026/11/ceasefire-talks-resume-in-doha/",
    ]
    assert links[0].published == datetime(2026, 11, 18, 10, 0)


def test_duplicates_merge_at_first_place_with_the_longest_title() -> None:
    page = """<ul>
      <li><a href="/news/2026/11/20/one-story-slug">Short but a headline</a></li>
      <li><a href="/news/2026/11/21/other-story-slug">Another story with a headline</a></li>
      <li><a href="/news/2026/11/20/one-story-slug#top">Short but a headline, with the long
      version of it</a><time datetime="2026-11-20T10:00:00Z"></time></li></ul>"""
    links = find_article_links(page, "https://news.example.com/")
    assert links == [
        ListedLink(
            "https://news.example.com/news/2026/11/20/one-story-slug",
            "Short but a headline, with the long version of it",
            datetime(2026, 11, 20, 10, 0),
        ),
        ListedLink(
            "https://news.example.com/news/2026/11/21/other-story-slug",
            "Another story with a headline",
            None,
        ),
    ]


def test_a_link_around_a_card_takes_its_heading_as_title() -> None:
    page = """<div class="grid">
      <a class="tile" href="/en/news/991234"><img src="/i.jpg" alt="">
        <h2>Drone strike hits a convoy near Al-Qaim</h2>
        <p>Officials said the convoy was carrying fuel. A summary runs on for a while.</p></a>
      <a class="tile" href="/en/news/991233"><h2>Short</h2><p>A summary that is long enough to
        pass for a headline on its own.</p></a></div>"""
    links = find_article_links(page, "https://www.example-news.com/en/news")
    assert [link.title for link in links] == [
        "Drone strike hits a convoy near Al-Qaim",
        "Short A summary that is long enough to pass for a headline on its own.",
    ]


def test_lone_surrogates_in_text_do_not_hide_the_rest_of_the_page() -> None:
    page = '<ul><li><a href="/a/1234/x">\ud800 Headline words are here</a></li><li></li></ul>'
    links = find_article_links(page, "https://x.example/")
    assert [(link.url, link.title) for link in links] == [
        ("https://x.example/a/1234/x", "? Headline words are here")
    ]


def test_links_resolve_against_the_pages_base_but_stay_on_its_site() -> None:
    cards = "".join(
        f'<li><a href="story/{n}-a-long-enough-slug">Story {n} has a headline</a></li>'
        for n in (1, 2)
    )
    mirror = f'<base href="https://www.example.net/en/"><ul>{cards}</ul>'
    links = find_article_links(mirror, "https://example.net/")
    assert urls(links)[0] == "https://www.example.net/en/story/1-a-long-enough-slug"
    elsewhere = f'<base href="https://other.example/en/"><ul>{cards}</ul>'
    assert find_article_links(elsewhere, "https://example.net/") == []


def test_selectors_take_exactly_what_they_select() -> None:
    selectors = {"item": "li.news-item", "title": "a", "date": "span.time"}
    links = find_article_links(ARABIC, ARABIC_BASE, selectors)
    assert len(links) == 4  # "عاجل" is kept: the selector says it is an item
    assert links[3] == ListedLink("https://www.example-iq.net/news/4123400", "عاجل", None)
    assert links[1].published == datetime(2026, 11, 19, 21, 40)


def test_selectors_on_cards_with_a_link_selector() -> None:
    selectors = {"item": "section.grid .card", "link": "h3 a, a.more", "title": "h3"}
    links = find_article_links(ENGLISH, ENGLISH_BASE, selectors)
    assert [link.title for link in links] == [
        "Basra protesters block oil field road for a third day",
        "Kurdistan and Baghdad resume talks on the budget",
        "Parliament delays vote on the Popular Mobilisation law",
        "Everything we wrote about Iraq this year",
    ]
    assert links[-1].url == "https://www.dailyexample.com/tag/iraq/"
    assert links[0].published == datetime(2026, 11, 20)  # the date written in the block


def test_selectors_default_to_the_first_link_of_the_item() -> None:
    links = find_article_links(ENGLISH, ENGLISH_BASE, {"item": ".card"})
    assert (
        urls(links)[0]
        == "https://www.dailyexample.com/world/middle-east/2026/11/20/basra-oil-protests"
    )
    assert links[0].title == "Basra protesters block oil field road for a third day"


def test_selectors_that_match_nothing_give_nothing() -> None:
    assert find_article_links(ENGLISH, ENGLISH_BASE, {"item": "div.no-such-thing"}) == []
    assert find_article_links(ENGLISH, ENGLISH_BASE, {"item": ".card", "link": "a.none"}) == []
    assert find_article_links("", ENGLISH_BASE, {"item": ".card"}) == []


@pytest.mark.parametrize(
    ("selectors", "message"),
    [
        ({"item": "div[class="}, "selector 'item' is not valid CSS"),
        ({"item": ".card", "title": "h3 >> a"}, "selector 'title' is not valid CSS"),
        ({"link": "a"}, "need an 'item' selector"),
        ({"item": ".card", "headline": "h3"}, "unknown selector key(s) headline"),
        ({"item": ".card", "date": "  "}, "selector 'date' is empty"),
    ],
)
def test_bad_selectors_raise_a_clear_value_error(selectors: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        find_article_links(ENGLISH, ENGLISH_BASE, selectors)
    with pytest.raises(ValueError):
        check_selectors(selectors)


@pytest.mark.parametrize("page", [b"", b"\x00\x01\x02", b"\x1f\x8b\x08junk", "no markup at all"])
def test_pages_that_are_not_html_give_nothing(page: bytes | str) -> None:
    assert find_article_links(page, ENGLISH_BASE) == []


def test_a_base_url_that_is_not_http_gives_nothing() -> None:
    assert find_article_links(ENGLISH, "ftp://example.com/") == []


HREFS = st.one_of(
    st.sampled_from(
        [
            "javascript:alert(1)", "data:text/html,<b>x</b>", "mailto:a@b.c", "http://[oops/",
            "https://other.example/2026/11/20/a-story-on-another-site", "//cdn.site.example/x.js",
            "/news/2026/11/20/a-proper-story-slug", "https://site.example:99999/a/b-c-d",
            "/tag/x", "?page=2", "#top", " ", "/news/12345", "http://sub.site.example/a/1234/x",
            "/%zz/%%/1234-abc-def-ghi", "/" + "a-" * 3000, "tel:+100", "HTTPS://SITE.EXAMPLE/a/b-c-d",
        ]
    ),
    st.text(max_size=60),
)  # fmt: skip
TEXT = st.text(max_size=80)
TAGS = st.sampled_from(["div", "li", "ul", "article", "nav", "footer", "h2", "p", "span", "td"])


@st.composite
def soup(draw: st.DrawFn) -> str:
    """HTML-ish text: tags opened and never closed, closed and never opened, huge attributes."""
    parts = []
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.integers(0, 5))
        if kind == 0:
            parts.append(f'<a href="{draw(HREFS)}">{draw(TEXT)}</a>')
        elif kind == 1:
            parts.append(f"<{draw(TAGS)} class='{draw(st.text(max_size=20))}'>")
        elif kind == 2:
            parts.append(f"</{draw(TAGS)}>")
        elif kind == 3:
            parts.append(f'<time datetime="{draw(TEXT)}">{draw(TEXT)}</time>')
        elif kind == 4:
            parts.append(f'<div title="{"x" * draw(st.integers(0, 200_000))}">')
        else:
            parts.append(draw(st.text(max_size=40)))
    return "".join(parts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=soup(), as_bytes=st.booleans())
def test_any_soup_gives_only_http_links_on_the_site(page: str, as_bytes: bool) -> None:
    body: bytes | str = page.encode("utf-8", "surrogatepass") if as_bytes else page
    for link in find_article_links(body, "https://www.site.example/news/"):
        parts = urlsplit(link.url)
        assert parts.scheme in ("http", "https") and not parts.fragment
        assert registrable_domain(parts.hostname or "") == "site.example"


@settings(max_examples=100, deadline=None)
@given(page=st.binary(max_size=2000))
def test_any_bytes_never_raise(page: bytes) -> None:
    for link in find_article_links(page, "https://www.site.example/news/"):
        assert registrable_domain(urlsplit(link.url).hostname or "") == "site.example"


@settings(max_examples=100, deadline=None)
@given(page=soup())
def test_any_soup_with_selectors_never_raises(page: str) -> None:
    selectors = {"item": "li, article, div", "title": "h2", "date": "time"}
    for link in find_article_links(page, "https://www.site.example/news/", selectors):
        assert urlsplit(link.url).scheme in ("http", "https")
