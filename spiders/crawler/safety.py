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

Twisted reports a refused resolution as "no results for hostname lookup", so the resolver
notes why it refused (``REFUSALS``) and ``RefusalReasonMiddleware`` turns that DNS error
back into a ``ForbiddenAddress`` with the reason: ``sources status`` then says what
happened and how to allow it. The check is about the *target*: a configured HTTP proxy
(``http_proxy``/``https_proxy`` or the ``proxy`` meta key) is where we choose to send
requests, so its own address is never refused (``PROXY_HOSTS``).
"""

from __future__ import annotations

import ipaddress
import logging
import urllib.request
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
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


ALLOW_HINT = " (set [crawl] allow_private_networks = true to allow)"


class ForbiddenAddress(IgnoreRequest):
    """A request the SSRF guard refused; the message says which host and why."""


class _Refusals:
    """Why the resolver refused each recently refused host name (bounded, newest kept)."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._reasons: OrderedDict[str, str] = OrderedDict()

    def note(self, host: str, reason: str) -> None:
        self._reasons[host.lower()] = reason
        self._reasons.move_to_end(host.lower())
        while len(self._reasons) > self.size:
            self._reasons.popitem(last=False)

    def forget(self, host: str) -> None:
        self._reasons.pop(host.lower(), None)

    def reason(self, host: str) -> str | None:
        return self._reasons.get(host.lower())


REFUSALS = _Refusals()
"""Shared by the resolver (which refuses) and the middleware (which reports): one crawl
per process, and Twisted gives the resolver no request to attach the reason to."""

PROXY_HOSTS: set[str] = set()
"""Host names and addresses of the proxies in use: never refused by the resolver."""


def proxy_hosts(proxies: Mapping[str, str] | None = None) -> set[str]:
    """The hosts of the proxies the environment configures (``http_proxy``, ...)."""
    found = set()
    for name, url in (urllib.request.getproxies() if proxies is None else proxies).items():
        if name == "no":
            continue
        host = _host_of(url if "://" in url else f"http://{url}")
        if host:
            found.add(host)
    return found


def _host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""


def _hinted(problem: str | None, allowed: str | None) -> str | None:
    """``problem``, with how to allow it when ``allow_private_networks`` would."""
    if problem and allowed is None:
        return problem + ALLOW_HINT
    return problem


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
        return _hinted(
            address_problem(host, allow_private=allow_private),
            address_problem(host, allow_private=True),
        )
    if not allow_private and (host in LOCAL_NAMES or host.endswith(".localhost")):
        return f"{host} is a local name{ALLOW_HINT}"
    return None


def resolved_problem(host: str, addresses: Sequence[str], *, allow_private: bool) -> str | None:
    """Why a host resolving to ``addresses`` may not be fetched: any forbidden one taints it."""
    for address in addresses:
        problem = address_problem(address, allow_private=allow_private)
        if problem:
            allowed = address_problem(address, allow_private=True)
            return _hinted(f"{host} resolves to {problem}", allowed)
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
        proxy = request.meta.get("proxy")
        if proxy:  # chosen by us (or the spider), so its address is trusted
            PROXY_HOSTS.add(_host_of(proxy if "://" in proxy else f"http://{proxy}"))


class RefusalReasonMiddleware:
    """Downloader middleware, next to the downloader: a DNS error for a host the resolver
    refused becomes the ``ForbiddenAddress`` it really is (and is not retried)."""

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> None:
        if not isinstance(exception, CannotResolveHostError | DNSLookupError):
            return
        reason = REFUSALS.reason(_host_of(request.url))
        if reason:
            raise ForbiddenAddress(f"refused {request.url}: {reason}") from None


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
        PROXY_HOSTS.update(proxy_hosts())
        return resolver

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:  # noqa: N802
        deferred = super().getHostByName(name, timeout)

        def check(address: str) -> str:
            if is_proxy(name):
                return address
            problem = resolved_problem(name, [address], allow_private=self.allow_private)
            if problem:
                logger.warning("refused to connect: %s", problem)
                REFUSALS.note(name, problem)
                raise DNSLookupError(f"refused: {problem}")
            REFUSALS.forget(name)
            return address

        deferred.addCallback(check)
        return deferred


def is_proxy(host: str, proxies: Iterable[str] | None = None) -> bool:
    """Is ``host`` one of the proxies we send requests through?"""
    return host.rstrip(".").lower() in (PROXY_HOSTS if proxies is None else set(proxies))
