"""Bytes of an HTML page as text, and the bounds every page parser keeps to. Pure.

The order of the clues: a BOM first; then bytes that are valid UTF-8 (and not plain ASCII)
are UTF-8 whatever they declare (legacy-encoded text is practically never valid UTF-8,
while pages re-encoded to UTF-8 keep a stale ``charset=gb2312``); then the HTTP
``Content-Type`` charset, then ``<meta charset>`` (via w3lib, with WHATWG aliases such as
latin-1 -> windows-1252), then charset-normalizer's guess (which recognises undeclared
windows-1256 Arabic). Kept apart from the extractor so that what only reads links
(listings, channels) does not load it.
"""

from __future__ import annotations

from charset_normalizer import from_bytes
from w3lib.encoding import html_to_unicode

MAX_HTML_CHARS = 4_000_000
"""Longer pages are cut here before parsing (real articles are far smaller)."""

MAX_ELEMENTS = 200_000
"""Pages with more elements than this are refused (real articles have a few thousand)."""

_LATIN_LOOKALIKES = frozenset(
    ("cp1250", "cp1252", "cp1254", "cp1257", "latin_1", "iso8859_2", "iso8859_15", "mac_roman")
)


def decode_html(html: bytes, content_type: str | None = None) -> str:
    """``html`` as text (see the module doc for the order of the clues)."""
    if not html.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) and not html.isascii():
        try:
            return html.decode("utf-8")
        except UnicodeDecodeError:
            pass
    _encoding, text = html_to_unicode(content_type, html, auto_detect_fun=_guess_encoding)
    return text


def _guess_encoding(html: bytes) -> str | None:
    try:
        html.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    sample = html if len(html) < 200_000 else html[:100_000] + html[-100_000:]
    results = from_bytes(sample)
    best = results.best()
    if best is None:
        return "cp1252"
    if best.encoding in _LATIN_LOOKALIKES and any(r.encoding == "cp1252" for r in results):
        return "cp1252"  # undeclared and ambiguous: the web's default, as browsers do
    return str(best.encoding)
