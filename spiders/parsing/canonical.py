"""Canonical URLs: one spelling per article, so "already stored?" is one exact lookup.

Pure functions, no I/O. What ``canonical_url`` does, and deliberately does not do:

- resolves a relative link against ``base``; only absolute http(s) URLs come out
  (anything else raises ``ValueError``);
- lowercases the scheme and host, IDNA-encodes an internationalised host, drops a
  trailing dot on the host and the default port (80 for http, 443 for https);
- resolves ``.``/``..`` path segments and spells percent-escapes one way (upper-case
  hex, unreserved characters unescaped, non-ASCII characters escaped as UTF-8);
- drops the fragment and tracking query parameters (``utm_*``, click ids such as
  ``fbclid``/``gclid``, newsletter ids, ``ref_src``; ``ref``/``src``/``source``/``from``
  only when their value names a channel such as ``rss`` or ``twitter``), keeps every
  other parameter exactly as written and sorts them by name (stable);
- keeps the path otherwise as is: no trailing-slash changes, no stripping of
  ``index.html``, no ``http``->``https`` upgrade. Those can name different pages on
  some servers, and the canonical URL is also the URL we fetch; the page's own
  ``rel=canonical`` (see ``prefer_canonical``) merges such variants when the site says so.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}

TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
        "twclid", "ttclid", "li_fat_id", "igshid", "igsh", "mc_cid", "mc_eid", "_ga", "_gl",
        "_hsenc", "_hsmi", "hsctatracking", "mkt_tok", "cmpid", "ocid", "ncid", "ref_src",
        "ref_url", "smid", "smtyp", "s_cid", "xtor", "at_medium", "at_campaign",
        "at_campaign_type", "at_creation", "at_platform", "at_send_date", "wt.mc_id",
        "wt.tsrc", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "sr_share",
        "rss_source", "spm", "__twitter_impression", "fb_action_ids",
        "fb_action_types", "fb_source", "fb_ref", "action_object_map", "action_type_map",
        "action_ref_map",
    }
)  # fmt: skip
"""Query parameters that only say how a reader arrived (lower-cased names)."""

TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_", "stm_", "vgo_ee")
"""Parameter name prefixes of campaign trackers (Google, Matomo/Piwik, ...)."""

CHANNEL_PARAMS = frozenset({"ref", "src", "source", "from", "via", "cmp", "mod"})
"""Parameters dropped only when their value is a channel word (``?ref=rss``)."""

CHANNEL_WORDS = re.compile(
    r"^(rss|feed|feeds|atom|feedburner|twitter|tw|x|facebook|fb|social|share|sharing|"
    r"newsletter|email|mail|homepage|home|hp|nav|navbar|menu|sidebar|widget|push|"
    r"google|googlenews|gnews|news_?feed|whatsapp|telegram|linkedin|reddit|flipboard|"
    r"app|amp|related|recirc|most_?read|trending)([_\-.].*)?$",
    re.IGNORECASE,
)

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = "/?:@!$&'()*+,;=-._~%"
_MOBILE_PREFIXES = ("www.", "m.", "amp.", "mobile.")
_WWW_N = re.compile(r"^www\d+\.")
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "ac", "edu", "or", "ne", "go", "gob"})


MAX_URL_LENGTH = 2083
"""The longest URL mediawatch follows or stores: Scrapy's ``URLLENGTH_LIMIT`` default (and
old browsers'), well inside what PostgreSQL's index on ``articles.url`` can hold."""


def canonical_url(url: str, base: str | None = None) -> str:
    """The canonical spelling of ``url`` (resolved against ``base`` when relative).

    >>> canonical_url("HTTPS://Example.COM:443/a/../b?utm_source=x&z=1&a=2#top")
    'https://example.com/b?a=2&z=1'

    Raises ``ValueError`` when the result is not an absolute http(s) URL with a host."""
    url = url.strip()
    if base:
        url = urljoin(base.strip(), url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = _canonical_host(parts.hostname or "")
    if not host:
        raise ValueError(f"URL without a host: {url!r}")
    port = parts.port  # raises ValueError on a garbage port
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"
    path = _remove_dot_segments(_normalise_escapes(parts.path, _PATH_SAFE)) or "/"
    query = _canonical_query(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def prefer_canonical(page_url: str, rel_canonical: str | None) -> str:
    """The page's ``rel=canonical`` when it can be trusted, else the page's own URL.

    Both come out canonical (``canonical_url``). The declared canonical is ignored when:

    - it is missing, not http(s) or unparsable;
    - it is on another site (a syndicated copy pointing at the original publisher:
      that copy is still a page of its own site, and dedupe groups it with the
      original as one story; trusting it would also let a page claim any URL);
    - it points at the site's home page (or a bare ``/?...``) while the page itself
      is not the home page: a common template bug that would merge every article.

    "Same site" compares registrable domains by a small rule (last two host labels,
    three under ``co.uk``-style second levels), so ``amp.example.com`` may point to
    ``www.example.com``."""
    page = canonical_url(page_url)
    if not rel_canonical or not rel_canonical.strip():
        return page
    try:
        declared = canonical_url(rel_canonical, base=page)
    except ValueError:
        logger.debug("ignoring unusable rel=canonical %r on %s", rel_canonical, page)
        return page
    page_parts, declared_parts = urlsplit(page), urlsplit(declared)
    if registrable_domain(page_parts.hostname or "") != registrable_domain(
        declared_parts.hostname or ""
    ):
        logger.debug("ignoring cross-site rel=canonical %s on %s", declared, page)
        return page
    if declared_parts.path in ("", "/") and page_parts.path not in ("", "/"):
        logger.debug("ignoring home-page rel=canonical %s on %s", declared, page)
        return page
    return declared


def site_of(url: str) -> str:
    """The publisher's name as its host says it: ``https://www.rudaw.net/x`` -> ``rudaw.net``.

    Strips ``www.``/``www2.``, ``m.``, ``amp.`` and ``mobile.``; returns ``""`` for a URL
    without a host."""
    try:
        host = _canonical_host(urlsplit(url.strip()).hostname or "")
    except ValueError:
        return ""
    host = _WWW_N.sub("", host)
    for prefix in _MOBILE_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
            break
    return host


def registrable_domain(host: str) -> str:
    """``news.bbc.co.uk`` -> ``bbc.co.uk``; ``edition.cnn.com`` -> ``cnn.com`` (a heuristic,
    not the public suffix list: good enough to tell "same site" for canonical links)."""
    labels = host.lower().rstrip(".").split(".")
    if len(labels) <= 2 or all(label.isdigit() for label in labels):
        return ".".join(labels)
    if len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def is_tracking_param(name: str, value: str) -> bool:
    key = unquote(name).strip().lower()
    if key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES):
        return True
    return key in CHANNEL_PARAMS and bool(CHANNEL_WORDS.match(unquote(value).strip()))


def _canonical_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    if not host or host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return quote(host, safe="-.")


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    kept: list[tuple[str, str]] = []
    for field in query.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if is_tracking_param(name, value):
            continue
        kept.append((unquote(name), _normalise_escapes(field, _QUERY_SAFE)))
    kept.sort(key=lambda pair: pair[0])
    return "&".join(field for _, field in kept)


def _normalise_escapes(text: str, safe: str) -> str:
    """Upper-case hex escapes, unescape unreserved characters, escape the rest as UTF-8."""

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return quote(_PERCENT.sub(fix, text), safe=safe)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, for absolute paths that still contain ``.`` or ``..``."""
    if "/." not in path:
        return path
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
            continue
        if segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
            continue
        output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") else "/" + result
