"""Canonical URLs: one spelling per article, so a repost under a tracking link is known."""

from __future__ import annotations

import pytest

from spiders.parsing.canonical import canonical_url, prefer_canonical, site_of


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.COM:443/a/../b?z=1&a=2#top", "https://example.com/b?a=2&z=1"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        ("https://ex.com/a?utm_source=rss&utm_medium=feed&id=7", "https://ex.com/a?id=7"),
        ("https://ex.com/a?fbclid=IwAR0&gclid=1&msclkid=2&mc_cid=3&igshid=4", "https://ex.com/a"),
        ("https://ex.com/a?ref=rss", "https://ex.com/a"),
        ("https://ex.com/a?ref=v2.3", "https://ex.com/a?ref=v2.3"),
        ("https://ex.com/a?ref_src=twsrc%5Etfw", "https://ex.com/a"),
        ("https://ex.com/%7euser/a%2fb", "https://ex.com/~user/a%2Fb"),
        ("https://ex.com/news/index.html", "https://ex.com/news/index.html"),
        ("https://ex.com/a/", "https://ex.com/a/"),
        ("https://ex.com/search?q=a+b&page=2", "https://ex.com/search?page=2&q=a+b"),
        ("https://ex.com/item?123", "https://ex.com/item?123"),
        ("https://bücher.de/سوريا", "https://xn--bcher-kva.de/%D8%B3%D9%88%D8%B1%D9%8A%D8%A7"),
    ],
)
def test_canonical_url_spells_one_url_one_way(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_is_idempotent() -> None:
    once = canonical_url("https://WWW.Ex.com/a/./b/?b=2&a=1&utm_campaign=x#frag")
    assert canonical_url(once) == once


def test_relative_links_resolve_against_the_page() -> None:
    assert canonical_url("../story?utm_source=x", base="https://ex.com/news/a/") == (
        "https://ex.com/news/story"
    )


@pytest.mark.parametrize("url", ["mailto:a@b.c", "javascript:void(0)", "ftp://ex.com/x", "/rel"])
def test_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        canonical_url(url)


def test_rel_canonical_on_the_same_site_wins() -> None:
    page = "https://amp.ex.com/story-1?utm_source=tw"
    assert prefer_canonical(page, "https://www.ex.com/story-1") == "https://www.ex.com/story-1"
    assert prefer_canonical(page, "/story-1") == "https://amp.ex.com/story-1"


@pytest.mark.parametrize(
    "declared",
    [None, "", "https://other.org/story-1", "https://www.ex.com/", "mailto:x@ex.com", "http://["],
)
def test_untrustworthy_rel_canonical_is_ignored(declared: str | None) -> None:
    assert prefer_canonical("https://www.ex.com/story-1", declared) == "https://www.ex.com/story-1"


def test_same_site_under_a_country_second_level_domain() -> None:
    assert prefer_canonical("https://news.bbc.co.uk/a", "https://www.bbc.co.uk/a") == (
        "https://www.bbc.co.uk/a"
    )
    assert prefer_canonical("https://a.co.uk/x", "https://b.co.uk/x") == "https://a.co.uk/x"


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://www.rudaw.net/english/x", "rudaw.net"),
        ("https://m.aljazeera.net/news", "aljazeera.net"),
        ("https://amp.theguardian.com/x", "theguardian.com"),
        ("https://arabic.cnn.com/x", "arabic.cnn.com"),
        ("https://m.com/x", "m.com"),
        ("not a url", ""),
    ],
)
def test_site_of_names_the_publisher_by_host(url: str, site: str) -> None:
    assert site_of(url) == site
