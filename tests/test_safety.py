"""The SSRF guard, the size caps and the crawler's settings."""

from __future__ import annotations

import gzip
from datetime import timedelta

import pytest
from scrapy import Request
from scrapy.utils.gz import gunzip
from scrapy.utils.test import get_crawler

from mediawatch.config import CrawlConfig
from spiders.safety import (
    ForbiddenAddress,
    SafeRedirectMiddleware,
    SsrfGuardMiddleware,
    address_problem,
    resolved_problem,
    url_problem,
)
from spiders.settings import crawler_settings

FORBIDDEN = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.1.1",
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "100.64.0.1",
    "::1",
    "fd00:ec2::254",
    "fe80::1",
    "::ffff:127.0.0.1",
    "fc00::5",
]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_private_addresses_are_refused(address: str) -> None:
    assert address_problem(address, allow_private=False)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::6810:84e5", "8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_problem(address, allow_private=False) is None


def test_allow_private_networks_still_refuses_cloud_metadata() -> None:
    assert address_problem("127.0.0.1", allow_private=True) is None
    assert address_problem("10.0.0.1", allow_private=True) is None
    assert address_problem("169.254.169.254", allow_private=True)
    assert address_problem("fd00:ec2::254", allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/x",
        "s3://bucket/key",
        "data:text/html,hi",
        "http://localhost:8080/",
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://2130706433/",  # 127.0.0.1 as a decimal integer is not a host we accept
    ],
)
def test_urls_refused_before_any_resolution(url: str) -> None:
    problem = url_problem(url, allow_private=False)
    # The decimal form is a hostname to urlsplit; the resolver guard catches it.
    if url == "http://2130706433/":
        assert resolved_problem("2130706433", ["127.0.0.1"], allow_private=False)
    else:
        assert problem, url


def test_hostnames_resolving_to_private_addresses_are_refused() -> None:
    assert resolved_problem("evil.example", ["93.184.216.34", "10.0.0.1"], allow_private=False)
    assert resolved_problem("good.example", ["93.184.216.34"], allow_private=False) is None


def test_the_downloader_middleware_refuses_every_request_and_redirect_hop() -> None:
    settings = crawler_settings(CrawlConfig())
    crawler = get_crawler(settings_dict=settings)
    guard = SsrfGuardMiddleware.from_crawler(crawler)
    guard.process_request(Request("https://example.com/feed"))
    with pytest.raises(ForbiddenAddress):
        guard.process_request(Request("http://127.0.0.1:8000/feed"))
    redirect = SafeRedirectMiddleware.from_crawler(crawler)
    from scrapy.http import Response

    hop = Response(
        "https://example.com/a", status=302, headers={"Location": "http://10.0.0.7/admin"}
    )
    with pytest.raises(ForbiddenAddress):
        redirect.process_response(Request("https://example.com/a"), hop)


def test_settings_are_polite_and_bounded() -> None:
    config = CrawlConfig(
        user_agent="mediawatch/0.1",
        contact_url="https://example.org/bot",
        timeout=timedelta(seconds=7),
        max_response_bytes=1234567,
        max_redirects=3,
    )
    settings = crawler_settings(config)
    assert settings["USER_AGENT"] == "mediawatch/0.1 (+https://example.org/bot)"
    assert settings["ROBOTSTXT_OBEY"] is True
    assert settings["DOWNLOAD_TIMEOUT"] == 7
    assert settings["DOWNLOAD_MAXSIZE"] == 1234567
    assert settings["REDIRECT_MAX_TIMES"] == 3
    assert settings["TELNETCONSOLE_ENABLED"] is False
    assert settings["AUTOTHROTTLE_ENABLED"] is True
    assert settings["DOWNLOAD_HANDLERS"]["file"] is None


def test_scrapy_caps_the_decompressed_size_of_a_gzip_bomb() -> None:
    """The cap applies to the inflated body, not the few kilobytes on the wire."""
    bomb = gzip.compress(b"\0" * 50_000_000)
    assert len(bomb) < 100_000
    with pytest.raises(Exception, match=r"max|size|exceed"):
        gunzip(bomb, max_size=1_000_000)
