"""The SSRF guard, the size caps and the crawler's settings."""

from __future__ import annotations

import gzip
import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from scrapy import Request
from scrapy.utils.gz import gunzip
from scrapy.utils.test import get_crawler
from support.processes import mediawatch_output as _mediawatch

from config.models import CrawlConfig
from spiders.crawler.safety import (
    ForbiddenAddress,
    SafeRedirectMiddleware,
    SsrfGuardMiddleware,
    address_problem,
    is_proxy,
    proxy_hosts,
    resolved_problem,
    url_problem,
)
from spiders.crawler.settings import crawler_settings

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


# -- through the CLI: what `sources status` tells, and proxies ------------------------------

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>
<item><title>Proxy story one</title><link>http://news.example/one.html</link></item>
<item><title>Proxy story two</title><link>http://news.example/two.html</link></item>
</channel></rss>"""
PAGE = "<html><head><title>{0}</title></head><body><h1>{0}</h1><p>{1}</p></body></html>"


class _ForwardProxy(BaseHTTPRequestHandler):
    """A plain HTTP forward proxy that answers for ``news.example`` itself (the test has
    no Internet): absolute-URI requests only, as a proxy receives them."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        if not self.path.startswith("http://news.example/"):
            self.send_error(400, "not a proxy request")
            return
        path = self.path.removeprefix("http://news.example")
        if path == "/feed.xml":
            body, kind = RSS.encode(), "application/rss+xml"
        elif path.endswith(".html"):
            title = f"Proxy story {path.strip('/').removesuffix('.html')}"
            body, kind = PAGE.format(title, "Text of the story. " * 30).encode(), "text/html"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _status_after_crawl(
    tmp_path: Path, sources: str, env: dict[str, str] | None = None
) -> dict[str, dict[str, object]]:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "mw.db"}"\n\n'
        '[crawl]\ntimeout = "3s"\ndelay = "1ms"\n\n'
        '[[clusters]]\nname = "Proxy"\nterms = ["Proxy story"]\n\n' + sources,
        encoding="utf-8",
    )
    _mediawatch(config, "init")
    _mediawatch(config, "crawl", "--once", "--format", "json", env=env)
    rows = json.loads(_mediawatch(config, "sources", "status", "--format", "json"))
    return {row["name"]: row for row in rows}


@pytest.mark.slow
def test_sources_status_tells_why_a_private_host_was_refused(tmp_path: Path) -> None:
    # "vm"-like names: this machine's own name resolves to a loopback address.
    local_name = socket.gethostname()
    if address_problem(socket.gethostbyname(local_name), allow_private=False) is None:
        pytest.skip(f"{local_name} resolves to a public address here")
    rows = _status_after_crawl(
        tmp_path,
        f'[[sources]]\nname = "By name"\nurl = "http://{local_name}:9/feed.xml"\n\n'
        '[[sources]]\nname = "Literal"\nurl = "http://10.0.0.1:9/feed.xml"\n',
    )
    for name in ("By name", "Literal"):
        error = str(rows[name]["error"])
        assert rows[name]["result"] == "error", rows[name]
        assert "refused" in error and "allow_private_networks" in error, error
        assert "DNS" not in error and "resolve" not in error.split(":")[0], error
    assert "is private" in str(rows["Literal"]["error"])
    assert f"{local_name} resolves to" in str(rows["By name"]["error"])


@pytest.mark.slow
def test_a_proxy_on_loopback_is_not_refused_as_if_it_were_the_target(tmp_path: Path) -> None:
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _ForwardProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    _ForwardProxy.seen = []
    try:
        address = f"http://127.0.0.1:{proxy.server_address[1]}"
        rows = _status_after_crawl(
            tmp_path,
            '[[sources]]\nname = "Via proxy"\nurl = "http://news.example/feed.xml"\n',
            env={"http_proxy": address, "HTTP_PROXY": address, "no_proxy": "", "NO_PROXY": ""},
        )
    finally:
        proxy.shutdown()
        proxy.server_close()
    row = rows["Via proxy"]
    assert row["result"] == "ok", row
    assert "http://news.example/one.html" in _ForwardProxy.seen
    assert "http://news.example/two.html" in _ForwardProxy.seen


def test_the_proxy_exemption_is_for_proxies_only() -> None:
    proxies = proxy_hosts({"http": "http://127.0.0.1:3128", "https": "proxy.lan:8080", "no": "x"})
    assert proxies == {"127.0.0.1", "proxy.lan"}
    assert is_proxy("PROXY.lan.", proxies) and not is_proxy("intranet.lan", proxies)
    # A target on the proxy's address is still refused before any connection.
    assert url_problem("http://127.0.0.1:3128/admin", allow_private=False)
