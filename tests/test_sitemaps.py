"""Sitemaps: indexes, urlsets and Google News sitemaps; recent entries only; hostile XML."""

from __future__ import annotations

import gzip
import time
from datetime import datetime, timedelta

from spiders.parsing.sitemaps import parse_sitemap, recent_entries

NOW = datetime(2026, 11, 20, 12, 0)

NEWS = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://x.example/2026/11/20/basra.html</loc>
  <news:news><news:publication><news:name>X Times</news:name><news:language>ar</news:language>
  </news:publication><news:publication_date>2026-11-20T09:00:00+03:00</news:publication_date>
  <news:title>  Basra   protests </news:title></news:news></url>
<url><loc>https://x.example/2026/11/19/lastmod-only.html</loc><lastmod>2026-11-19</lastmod></url>
<url><loc>https://x.example/2019/old.html</loc><lastmod>2019-05-01T00:00:00Z</lastmod></url>
<url><loc>/relative.html</loc></url>
<url><loc>javascript:alert(1)</loc></url>
</urlset>"""


def test_news_sitemap_entries_with_news_date_title_and_language() -> None:
    sitemap = parse_sitemap(NEWS, "https://x.example/news.xml")
    assert sitemap.kind == "urlset" and sitemap.error is None
    first = sitemap.entries[0]
    assert first.news_title == "Basra protests"
    assert first.published == datetime(2026, 11, 20, 6, 0)
    assert (first.publication_name, first.language) == ("X Times", "ar")
    assert sitemap.entries[1].published == datetime(2026, 11, 19)  # lastmod stands in
    assert sitemap.entries[-1].loc == "https://x.example/relative.html"
    assert len(sitemap.entries) == 4  # the javascript: URL is dropped


def test_only_recent_entries_are_followed_newest_first() -> None:
    entries = parse_sitemap(NEWS, "https://x.example/news.xml").entries
    kept = [e.loc.rsplit("/", 1)[-1] for e in recent_entries(entries, NOW, timedelta(days=3))]
    assert kept == ["basra.html", "lastmod-only.html", "relative.html"]


def test_sitemap_index_lists_child_sitemaps() -> None:
    body = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://x.example/news.xml</loc><lastmod>2026-11-20T10:00:00Z</lastmod></sitemap>
<sitemap><loc>https://x.example/2019.xml.gz</loc><lastmod>2019-01-01</lastmod></sitemap>
</sitemapindex>"""
    sitemap = parse_sitemap(body, "https://x.example/index.xml")
    assert sitemap.kind == "index"
    recent = recent_entries(sitemap.entries, NOW, timedelta(days=3))
    assert [child.loc for child in recent] == ["https://x.example/news.xml"]


def test_gzipped_sitemap_without_content_encoding_is_inflated() -> None:
    sitemap = parse_sitemap(gzip.compress(NEWS), "https://x.example/news.xml.gz")
    assert len(sitemap.entries) == 4


def test_gzip_bomb_sitemap_is_refused_by_the_size_cap() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * 20_000_000 + b"</urlset>")
    started = time.perf_counter()
    sitemap = parse_sitemap(bomb, "https://x.example/bomb.xml.gz", max_size=1_000_000)
    assert sitemap.kind == "invalid" and sitemap.error
    assert time.perf_counter() - started < 5


def test_billion_laughs_does_not_expand() -> None:
    entities = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    body = (
        f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY lol0 "lol">{entities}]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://x.example/&lol9;</loc></url></urlset>"
    ).encode()
    started = time.perf_counter()
    sitemap = parse_sitemap(body, "https://x.example/lol.xml")
    assert time.perf_counter() - started < 2
    assert all(len(entry.loc) < 1000 for entry in sitemap.entries)


def test_external_entities_are_not_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://x.example/&x;</loc></url></urlset>"
    ).encode()
    sitemap = parse_sitemap(body, "https://x.example/xxe.xml")
    assert all("TOP-SECRET" not in entry.loc for entry in sitemap.entries)


def test_not_a_sitemap_is_an_error_result() -> None:
    assert parse_sitemap(b"<html><body>hi</body></html>", "https://x.example/").error
    assert parse_sitemap(b"\x00\x01garbage", "https://x.example/").error
