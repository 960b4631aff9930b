"""Which strings are secret, and how to keep them out of anything we print or log.

The config names secrets (``*_env`` keys point at environment variables; storage and
Redis URLs may carry a password); ``Config.secrets`` collects their values. Libraries
do not log a secret the way it was configured: apprise logs a webhook's path alone,
urllib3 its request line, a driver the password percent-decoded. So a secret URL also
contributes its password and its token-like parts, and every secret is masked in the
spellings a library may give it (``secret_forms``).

The one rule: a part that is a plain word (``api``, ``webhooks``, a host name) is not
a secret; masking it would make logs unreadable without hiding anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter values are not masked: ``abc`` would be starred out of every word holding it."""

_HOST_LIKE = re.compile(r"^(?:\[[0-9a-fA-F:.%]+\]|[A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)+|localhost)$")
"""A host name as a person writes one (dotted): a token in the host position is not."""
_ANY_HOST = re.compile(r"^(?:\[[0-9a-fA-F:.%]+\]|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)$")
"""Any host a URL may name after its credentials, ``db`` of a compose file too."""
_PLAIN_WORD = re.compile(r"^[a-z]+(?:[-_.][a-z]+)*$")
_SPLIT_URLS = re.compile(r"[\s,]+")


def split_credentials(url: str) -> tuple[str, str, str, str] | None:
    """``url`` as (``scheme://user``, ``:password``, ``@host...``, ``user``) when it
    carries a password, else None.

    The userinfo ends at the *last* ``@`` before the host (a password may hold ``@``
    and ``:``, quoted or not). A password holding an unquoted ``/``, ``?`` or ``#``
    ends the authority early for a URL parser; it is still found here, because a
    secret is better over-redacted than printed.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return None
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority = rest[:authority_end]
    if "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        tail = rest[authority_end:]
    else:
        # An unquoted delimiter inside the password: the userinfo runs to the last '@'
        # that is followed by something shaped like host[:port].
        match = re.match(r"^([^/?#@:]*):(.*)@([^@/?#]*)(?=[/?#]|$)", rest, re.DOTALL)
        if not match or not _ANY_HOST.match(match.group(3).rsplit(":", 1)[0] or "x.y"):
            return None
        user_part, port_part = match.group(1), match.group(2).split("/", 1)[0]
        if "." in user_part and _HOST_LIKE.match(user_part) and port_part.isdigit():
            return None  # example.org:8080/path@..., not a password
        userinfo, host = f"{match.group(1)}:{match.group(2)}", match.group(3)
        tail = rest[match.end() :]
    user, colon, password = userinfo.partition(":")
    if not colon:
        return None
    return f"{scheme}://{user}", f":{password}", f"@{host}{tail}", user


def redact_url(url: str) -> str:
    """A URL safe to log or print: any password in it becomes ``***``."""
    parts = split_credentials(url)
    if parts is None:
        return url
    head, _password, tail, _user = parts
    return f"{head}:{MASK}{tail}"


def _token_like(part: str) -> bool:
    """A part of a secret URL worth masking on its own: not a plain lowercase word."""
    return len(part) >= 6 and not _PLAIN_WORD.match(part)


def url_secrets(url: str) -> set[str]:
    """A secret URL, its password, and its token-like parts (apprise URLs keep tokens
    in the host position too: ``discord://id/token``, ``tgram://bot-token/chat``)."""
    found = {url}
    credentials = split_credentials(url)
    if credentials is not None:
        _head, password, _tail, user = credentials
        found.add(password[1:])
        if _token_like(user):
            found.add(user)
    try:
        parts = urlsplit(url)
    except ValueError:
        return found
    netloc = parts.netloc.rsplit("@", 1)[-1]
    host = netloc.rsplit(":", 1)[0] if not netloc.endswith("]") else netloc
    if _token_like(host) and not _HOST_LIKE.match(host):
        found.add(host)
    port = netloc[len(host) + 1 :]
    if _token_like(port) and not port.isdigit():  # ``tgram://123456:AAF-token/chat``
        found.add(port)
    path = parts.path.strip("/")
    if len(path) >= 6 and any(_token_like(segment) for segment in path.split("/")):
        found.add(parts.path)
        found.add(path)
    found.update(segment for segment in path.split("/") if _token_like(segment))
    for _name, value in parse_qsl(parts.query, keep_blank_values=True):
        if _token_like(value):
            found.add(value)
    if _token_like(parts.fragment):
        found.add(parts.fragment)
    return found


def secret_values(
    variables: Iterable[str], urls: Iterable[str], environ: Mapping[str, str]
) -> set[str]:
    """Every secret value a configuration points at: the values of the environment
    ``variables`` it names (and the secret parts of the URLs among them), and the
    passwords of its own ``urls`` (storage, Redis)."""
    found: set[str] = set()
    for variable in variables:
        value = environ.get(variable, "").strip()
        if not value:
            continue
        found.add(value)
        for item in _SPLIT_URLS.split(value):
            if "://" in item:
                found |= url_secrets(item)
    for url in urls:
        credentials = split_credentials(url)
        if credentials is not None:
            found.add(credentials[1][1:])
    return {secret for secret in found if len(secret) >= MIN_SECRET_LENGTH}


def secret_forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each secret in the spellings libraries write it in, longest first (so a URL is
    masked whole before its parts)."""
    forms: set[str] = set()
    for secret in secrets:
        for form in (
            secret,
            unquote(secret),
            quote(secret, safe=""),
            quote(secret, safe="/:@"),
            quote_plus(secret),
        ):
            if len(form) >= MIN_SECRET_LENGTH:
                forms.add(form)
    return tuple(sorted(forms, key=lambda form: (-len(form), form)))


def mask(text: str, forms: Iterable[str]) -> str:
    """``text`` with every form of every secret replaced by ``***``."""
    for form in forms:
        if form in text:
            text = text.replace(form, MASK)
    return text
