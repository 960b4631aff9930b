"""Verified TLS for every crawl: certificate chain and host name, like a browser.

Scrapy's default context factory accepts any certificate, so anyone on the path could
serve articles (and fake spikes) for any HTTPS source. ``VerifyingContextFactory``
(``DOWNLOADER_CLIENTCONTEXTFACTORY``) trusts the system's CAs plus the extra CA files in
the ``MEDIAWATCH_CA_FILES`` setting: ``[crawl] ca_bundle`` and ``$SSL_CERT_FILE``
(added to the system's CAs, never instead of them). A certificate that fails is a
failed request, and so the source's poll error.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from OpenSSL import SSL
from scrapy.exceptions import ScrapyDeprecationWarning
from twisted.internet._sslverify import IOpenSSLTrustRoot  # public in docs, not re-exported
from twisted.internet.ssl import optionsForClientTLS
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

CA_FILES_SETTING = "MEDIAWATCH_CA_FILES"
FACTORY = "spiders.crawler.tls.VerifyingContextFactory"


def ca_files(ca_bundle: str | None, environ: Mapping[str, str] = os.environ) -> list[str]:
    """The CA files to trust besides the system's: ``[crawl] ca_bundle``, ``$SSL_CERT_FILE``."""
    files = [ca_bundle] if ca_bundle else []
    extra = environ.get("SSL_CERT_FILE", "").strip()
    if extra and extra not in files:
        files.append(extra)
    return files


def allow_custom_factory() -> None:
    """Scrapy warns that ``DOWNLOADER_CLIENTCONTEXTFACTORY`` is deprecated; it is still
    the one documented way to choose whom to trust, and the warning is noise in every
    crawl's log. (A filter, set before each crawler is built: test runners reset them.)"""
    warnings.filterwarnings(
        "ignore",
        message="The 'DOWNLOADER_CLIENTCONTEXTFACTORY' setting is deprecated",
        category=ScrapyDeprecationWarning,
    )


def usable_ca_files(files: Iterable[str]) -> list[str]:
    """The files OpenSSL can load; each other one is logged once and left out."""
    usable = []
    for path in files:
        try:
            SSL.Context(SSL.TLS_CLIENT_METHOD).load_verify_locations(path)
        except (SSL.Error, OSError, TypeError) as exc:
            logger.error("cannot use CA file %s (ignored): %s", path, exc or "no certificate")
            continue
        usable.append(path)
    return usable


@implementer(IOpenSSLTrustRoot)
class SystemAndExtraTrust:
    """The system's CAs plus the certificates in ``files``."""

    def __init__(self, files: Sequence[str]) -> None:
        self.files = tuple(files)

    def _addCACertsToContext(self, context: SSL.Context) -> None:  # noqa: N802  # Twisted's API
        context.set_default_verify_paths()
        for path in self.files:
            context.load_verify_locations(path)


@implementer(IPolicyForHTTPS)
class VerifyingContextFactory:
    """Scrapy's ``DOWNLOADER_CLIENTCONTEXTFACTORY``: verify chain and host name."""

    def __init__(self, files: Sequence[str] = ()) -> None:
        self.trust = SystemAndExtraTrust(files)

    @classmethod
    def from_crawler(cls, crawler: Crawler, method: Any = None, **_kwargs: Any) -> Self:
        return cls(usable_ca_files(crawler.settings.getlist(CA_FILES_SETTING)))

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:  # noqa: N802  # Twisted's API
        trust: Any = self.trust  # an IOpenSSLTrustRoot by @implementer, which mypy cannot see
        return optionsForClientTLS(hostname.decode("ascii"), trustRoot=trust)
