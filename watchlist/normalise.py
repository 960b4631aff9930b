"""Text normalisation shared by watch-list terms, article text and queries.

``normalise(text)`` returns lowercase words separated by single spaces, so that
spelling variants compare equal:

- Unicode NFKC (ligatures, full-width and Arabic presentation forms), then casefold;
- Latin and Greek accents dropped (``Qāsim`` == ``Qasim``), other combining marks of
  Latin, Hebrew and Arabic script removed (harakat, dagger alef, Quranic marks);
- apostrophes and ayn/hamza marks (``' ’ ‘ ʼ ʻ ` ´ ʿ ʾ ′``) removed, so ``Asa'ib`` ==
  ``Asaib`` == ``Asa’ib``; a possessive ``'s`` at the end of a word is dropped
  (``Hezbollah's`` == ``Hezbollah``);
- Arabic letter folding: ``أ إ آ ٱ`` -> ``ا``, ``ى ی`` -> ``ي``, ``ة ۀ ھ ہ`` -> ``ه``,
  ``ک`` -> ``ك``, ``ؤ`` -> ``و``, ``ئ`` -> ``ي`` (hamza carriers fold to their letter, as
  writers drop the hamza freely); tatweel removed;
- every Unicode decimal digit (Arabic-Indic, Persian, ...) -> ``0-9``;
- punctuation, symbols, hyphens, controls, ZWNJ/ZWJ and bidi marks -> space (so
  ``al-Khazali`` == ``al Khazali``); soft hyphen removed; whitespace collapsed.

The rules are one character translation table plus two small regular expressions.
Typical English, Arabic and Persian news text takes a fast path through a private
single-byte code page (``bytes.translate`` is ~30x faster than ``str.translate`` on
non-ASCII text); anything else takes the general path. Both give the same result.

``normalise_with_spans(text)`` also returns, for each normalised word, the span of
the original text it came from, for highlighting where a term matched.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

APOSTROPHES = "'’‘ʼʻ`´ʿʾ′ʹ"
"""Removed inside words: ``Asa'ib`` == ``Asaib``."""

_ARABIC_FOLDS = {
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ٲ": "ا",
    "ٳ": "ا",
    "ى": "ي",
    "ی": "ي",
    "ئ": "ي",
    "ؤ": "و",
    "ة": "ه",
    "ۀ": "ه",
    "ھ": "ه",
    "ہ": "ه",
    "ک": "ك",
}

_DELETED = {
    "\u0640",  # tatweel
    "\u00ad",  # soft hyphen: joins the word it splits
}

# Combining marks removed wherever they occur (Latin/Greek diacritics, Hebrew points,
# Arabic harakat and Quranic annotation marks).
_MARK_RANGES = (
    (0x0300, 0x036F),
    (0x0483, 0x0489),
    (0x0591, 0x05C7),
    (0x0610, 0x061A),
    (0x064B, 0x065F),
    (0x0670, 0x0670),
    (0x06D6, 0x06ED),
    (0x08D3, 0x08FF),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
)

# Letters whose accents are dropped (Latin and Greek blocks).
_UNACCENT_RANGES = ((0x00C0, 0x024F), (0x0370, 0x03FF), (0x1E00, 0x1FFF))

_TABLE_RANGES = ((0, 0x10000), (0x1F000, 0x1FC00))
"""Where punctuation/symbols are looked up (BMP and the emoji planes)."""


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for low, high in _TABLE_RANGES:
        for code in range(low, high):
            char = chr(code)
            category = unicodedata.category(char)
            if category[0] in "PSZC":
                table[code] = " "
            elif category == "Nd" and not char.isascii():
                table[code] = str(unicodedata.decimal(char))
            elif category == "Mn" and any(lo <= code <= hi for lo, hi in _MARK_RANGES):
                table[code] = None
    for low, high in _UNACCENT_RANGES:
        for code in range(low, high + 1):
            char = chr(code)
            if not unicodedata.category(char).startswith("L"):
                continue
            bare = "".join(
                c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
            )
            if bare and bare != char:
                table[code] = bare.casefold()
    for source, target in _ARABIC_FOLDS.items():
        table[ord(source)] = target
    for char in _DELETED:
        table[ord(char)] = None
    for char in APOSTROPHES:
        table[ord(char)] = "'"  # removed after the possessive rule has seen it
    table[ord("_")] = " "
    return table


_TABLE = _build_table()
_POSSESSIVE = re.compile(r"'s(?!\w)")


def _normalise_general(text: str) -> str:
    """The reference path: any text."""
    if "´" in text:  # NFKC would turn it into a space and a combining accent
        text = text.replace("´", "'")
    text = unicodedata.normalize("NFKC", text).casefold().translate(_TABLE)
    if "'" in text:
        text = _POSSESSIVE.sub("", text).replace("'", "")
    return " ".join(text.split())


def _fold_char(char: str) -> str:
    """What the general path makes of one character on its own (no collapsing)."""
    if char == "´":
        char = "'"
    return unicodedata.normalize("NFKC", char).casefold().translate(_TABLE)


# ---- the fast path: a private single-byte code page ---------------------------------

_FAST_EXTRA = (
    # Arabic letters, tatweel, harakat, dagger alef
    "".join(chr(c) for c in range(0x0621, 0x063B))
    + "".join(chr(c) for c in range(0x0640, 0x0653))
    + "\u0670"
    # Persian letters and Arabic letter variants
    + "پچژکگیۀٱھہ"
    # Arabic-Indic and Persian digits; Arabic punctuation
    + "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹"
    + "،؛؟٪٫٬"
    # quotes, apostrophes, dashes, bullets
    + "’‘“”«»ʼʻʿʾ′‐–—−•·"
    # ZWNJ, ZWJ, bidi and other invisible marks
    + "\u200b\u200c\u200d\u200e\u200f\u061c\ufeff\u00ad"
    # accented letters of transliterations and European names
    + "éèàáâçñöüäíóúāīūḥṣṭ"
)


def _build_code_page() -> tuple[str, Any, bytes, bytes]:
    """Decoding table, encoding map, byte translation table and deleted bytes."""
    chars = [chr(c) for c in range(128)] + list(dict.fromkeys(_FAST_EXTRA))
    if len(chars) > 256:
        raise RuntimeError("fast code page overflow")
    chars += ["\ufffe"] * (256 - len(chars))  # unused slots never occur in encoded text
    decoding = "".join(chars)
    position = {char: index for index, char in enumerate(chars) if char != "\ufffe"}
    translation = bytearray(range(256))
    deleted = bytearray()
    for char, index in position.items():
        folded = _fold_char(char)
        if folded == "":
            deleted.append(index)
        elif folded.isspace():
            translation[index] = 0x20
        elif folded in position:
            translation[index] = position[folded]
        else:
            raise RuntimeError(f"fast code page cannot fold {char!r} to {folded!r}")
    return decoding, codecs.charmap_build(decoding), bytes(translation), bytes(deleted)


_DECODING, _ENCODING_MAP, _BYTE_TABLE, _BYTE_DELETE = _build_code_page()
_POSSESSIVE_BYTES = re.compile(rb"'s(?![0-9a-z\x80-\xff])")


def _normalise_fast(text: str) -> str | None:
    """The code-page path, or None when the text has a character outside it."""
    if text.isascii():
        data = text.encode("ascii")
    else:
        text = unicodedata.normalize("NFKC", text)
        try:
            data = codecs.charmap_encode(text, "strict", _ENCODING_MAP)[0]
        except UnicodeEncodeError:
            return None
    data = data.translate(_BYTE_TABLE, _BYTE_DELETE)
    if b"'" in data:
        data = _POSSESSIVE_BYTES.sub(b"", data).replace(b"'", b"")
    data = b" ".join(data.split())
    if data.isascii():
        return data.decode("ascii")
    return codecs.charmap_decode(data, "strict", _DECODING)[0]


def normalise(text: str) -> str:
    """Normalised words of ``text`` joined by single spaces (see the module docstring)."""
    fast = _normalise_fast(text)
    return fast if fast is not None else _normalise_general(text)


# ---- where the words came from -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Normalised:
    """Normalised text and, per word, the ``(start, end)`` span in the original text."""

    original: str
    text: str
    spans: tuple[tuple[int, int], ...]

    @property
    def words(self) -> list[str]:
        return self.text.split(" ") if self.text else []

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Original span of words ``first`` to ``last`` (exclusive)."""
        return self.spans[first][0], self.spans[last - 1][1]


@cache
def _word_run() -> re.Pattern[str]:
    """A run of original characters that does not contain a word separator."""
    separators: list[int] = []
    for code in range(0x10000):
        folded = _fold_char(chr(code))
        if folded and folded.isspace():
            separators.append(code)
    separators.extend(c for c in range(0x1F000, 0x1FC00) if _TABLE.get(c) == " ")
    ranges: list[str] = []
    start = previous = separators[0]
    for code in [*separators[1:], -1]:
        if code == previous + 1:
            previous = code
            continue
        last = "-" + re.escape(chr(previous)) if previous > start else ""
        ranges.append(re.escape(chr(start)) + last)
        start = previous = code
    return re.compile(f"[^{''.join(ranges)}]+")


def normalise_with_spans(text: str) -> Normalised:
    """Like ``normalise`` but remembering where each word came from."""
    words: list[str] = []
    spans: list[tuple[int, int]] = []
    for run in _word_run().finditer(text):
        for word in normalise(run.group()).split():
            words.append(word)
            spans.append(run.span())
    return Normalised(text, " ".join(words), tuple(spans))
