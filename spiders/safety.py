"""The SSRF guard: no request reaches a private, loopback, link-local, multicast,
reserved or cloud-metadata address unless ``[crawl] allow_private_networks = true``.

Cloud metadata endpoints (169.254.169.254, fd00:ec2::254, and the rest of the IPv4/IPv6
link-local ranges) are refused even then: nothing a news crawler needs lives there.

Two checks, because a hostile feed has two ways in:

* ``SsrfGuardMiddleware`` (downloader middleware) refuses any request whose scheme is
  not http(s) or whose host is a forbidden IP literal or a local name. Redirects come
  back through it as new requests, so every hop is checked (``SafeRedirectMiddleware``
  refuses a forbidden ``Location`` before it is even scheduled).
* ``GuardedResolver`` (``TWISTED_DNS_RESOLVER``) refuses hostnames that *resolve* to a
  forbidden address at the moment of connecting, so DNS rebinding cannot slip past a
  check made earlier.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.resolver import CachingThreadedResolver
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

SETTING = "MEDIAWATCH_ALLOW_PRIVATE_NETWORKS"
ALLOWED_SCHEMES = frozenset({"http", "https"})
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


class ForbiddenAddress(IgnoreRequest):
    """A request the SSRF guard refused; the message says which host and why."""


def address_problem(address: str, *, allow_private: bool) -> str | None:
    """Why ``address`` (an IP literal) may not be fetched, or None when it may."""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%")[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return f"{ip} is a cloud metadata address"
    if ip.is_link_local:
        return f"{ip} is link-local"
    if allow_private:
        return None
    for test, label in (
        (ip.is_loopback, "loopback"),
        (ip.is_private, "private"),
        (ip.is_multicast, "multicast"),
        (ip.is_reserved, "reserved"),
        (ip.is_unspecified, "unspecified"),
        (not ip.is_global, "not globally routable"),
    ):
        if test:
            return f"{ip} is {label}"
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return False
    return True


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` may not be fetched without resolving its host (scheme, IP literal,
    local name), or None. ``GuardedResolver`` checks resolved names."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        return f"scheme {parts.scheme or '(none)'!r} is not http(s)"
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return "no host"
    if _is_ip(host):
        problem = address_problem(host, allow_private=allow_private)
        return f"{host}: {problem}" if problem else None
    if not allow_private and (host in LOCAL_NAMES or host.endswith(".localhost")):
        return f"{host} is a local name"
    return None


def resolved_problem(host: str, addresses: Sequence[str], *, allow_private: bool) -> str | None:
    """Why a host resolving to ``addresses`` may not be fetched: any forbidden one taints it."""
    for address in addresses:
        problem = address_problem(address, allow_private=allow_private)
        if problem:
            return f"{host} resolves to {problem}"
    return None


class SsrfGuardMiddleware:
    """Downloader middleware: refuse forbidden URLs before they are downloaded."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.settings.getbool(SETTING))

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        problem = url_problem(request.url, allow_private=self.allow_private)
        if problem:
            logger.warning("refused %s: %s", request.url, problem)
            raise ForbiddenAddress(f"refused {request.url}: {problem}")


class SafeRedirectMiddleware(RedirectMiddleware):
    """Scrapy's redirect handling, refusing a forbidden ``Location`` before following it."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.allow_private = settings.getbool(SETTING)

    def _redirect(self, redirected: Request, request: Request, reason: Any) -> Request:
        problem = url_problem(redirected.url, allow_private=self.allow_private)
        if problem:
            logger.warning("refused redirect %s -> %s: %s", request.url, redirected.url, problem)
            raise ForbiddenAddress(f"refused redirect to {redirected.url}: {problem}")
        return super()._redirect(redirected, request, reason)


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, refusing names that resolve to forbidden addresses."""

    allow_private = False

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> Self:
        resolver = super().from_crawler(crawler, reactor)
        resolver.allow_private = crawler.settings.getbool(SETTING)
        return resolver

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:  # noqa: N802
        deferred = super().getHostByName(name, timeout)

        def check(address: str) -> str:
            problem = resolved_problem(name, [address], allow_private=self.allow_private)
            if problem:
                logger.warning("refused to connect: %s", problem)
                raise DNSLookupError(f"refused: {problem}")
            return address

        deferred.addCallback(check)
        return deferred
