"""Which language an article is in: what the page declares, checked against its text.

``py3langid`` (a naive-Bayes model of ~100 languages shipped inside the package, no
download) classifies the text; a letter-based rule settles Arabic against Persian,
which share a script (Persian writes پ چ ژ گ and ی ک, and words such as است and را).

Decision (``choose_language``):

1. the text's script contradicts the declared language (``lang="en"`` on an Arabic
   page, a common template default) -> the detected language;
2. declared Arabic vs detected Persian, or the reverse -> the letter rule decides;
3. otherwise the declared language, else the detected one, else ``fallback``.

Codes are ISO 639-1 where one exists (``en``, ``ar``, ``fa``), lower case, no region.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache
from typing import Any

logger = logging.getLogger(__name__)

MIN_LETTERS = 20
"""Below this many letters the text says too little to detect anything."""

SAMPLE_CHARS = 3000
"""Detection reads the first this-many characters; more adds time, not accuracy."""

LEGACY_CODES = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro", "nb": "no", "nn": "no"}

SCRIPT_OF_LANGUAGE = {
    **dict.fromkeys(("ar", "fa", "ur", "ps", "ckb", "ug", "sd"), "arabic"),
    **dict.fromkeys(("ru", "uk", "bg", "sr", "mk", "be", "kk", "ky", "mn", "tg"), "cyrillic"),
    **dict.fromkeys(("zh", "ja"), "han"),
    "ko": "hangul",
    "he": "hebrew",
    "yi": "hebrew",
    "el": "greek",
    "hi": "devanagari",
    "mr": "devanagari",
    "ne": "devanagari",
    "th": "thai",
    "ka": "georgian",
    "hy": "armenian",
    "bn": "bengali",
    "ta": "tamil",
    "am": "ethiopic",
    **dict.fromkeys(
        (
            "en", "fr", "de", "es", "it", "pt", "nl", "sv", "no", "da", "fi", "pl", "cs",
            "sk", "sl", "hr", "bs", "hu", "ro", "tr", "id", "ms", "vi", "et", "lv", "lt",
            "sq", "ca", "gl", "eu", "af", "sw", "tl", "is", "ga", "cy", "az", "uz", "ku",
        ),
        "latin",
    ),
}  # fmt: skip

PERSIAN_LETTERS = frozenset("پچژگیک")
ARABIC_ONLY_LETTERS = frozenset("ةيكىإأؤ")
PERSIAN_WORDS = frozenset(
    ("است", "را", "این", "که", "می", "برای", "های", "شده", "خود", "بود", "کرد", "شد", "نیز",
     "آن", "یک", "هم", "اما", "ایران", "تهران")
)  # fmt: skip
ARABIC_WORDS = frozenset(
    ("في", "من", "على", "إلى", "التي", "الذي", "عن", "مع", "هذا", "هذه", "كان", "قال", "أن", "إن")
)  # fmt: skip
_WORD = re.compile(r"\w+")
_LANG_TAG = re.compile(r"^([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]{1,8})*$")


def normalise_language(tag: str | None) -> str | None:
    """``en-US`` -> ``en``, ``fa_IR`` -> ``fa``, ``iw`` -> ``he``; None for junk or ``und``."""
    if not tag:
        return None
    match = _LANG_TAG.match(tag.strip())
    if match is None:
        return None
    code = match.group(1).lower()
    code = LEGACY_CODES.get(code, code)
    return code if code in known_languages() and code != "zxx" else None


DETECTOR_LANGUAGES = frozenset(
    ("ace", "af", "am", "an", "ar", "ary", "arz", "as", "az", "ba", "bcl", "be", "bg", "bn",
     "br", "bs", "ca", "crh", "cs", "cy", "da", "de", "dz", "el", "en", "eo", "es", "et",
     "eu", "ext", "fa", "fi", "fo", "fr", "fuv", "fy", "ga", "gcf", "gcr", "gd", "gl", "gom",
     "grc", "gu", "gug", "guw", "ha", "hbo", "he", "hi", "hr", "ht", "hu", "hy", "id", "ig",
     "is", "it", "ja", "jv", "ka", "kab", "kik", "kk", "km", "kn", "ko", "ku", "ky", "la",
     "lb", "lg", "lij", "ln", "lo", "lt", "ltg", "lv", "mg", "mk", "ml", "mn", "mr", "ms",
     "mt", "my", "ne", "nl", "nn", "no", "nso", "oc", "om", "or", "pa", "pcm", "pl", "ps",
     "pt", "qu", "ro", "ru", "rw", "sa", "sdh", "se", "si", "sk", "sl", "sn", "so", "sq",
     "sr", "st", "sv", "sw", "ta", "te", "tg", "th", "tk", "tl", "tr", "tt", "ug", "uk",
     "ur", "uz", "uzs", "vec", "vi", "vo", "wa", "wuu", "xh", "yo", "yue", "zh", "zu", "zxx")
)  # fmt: skip
"""The labels of py3langid's model, written out: checking a page's language tag must not
load the model (about a second, and the crawl's process tags every article it stores
while detection runs in the extraction workers). A test holds it to the model's labels."""


def known_languages() -> frozenset[str]:
    """Codes we accept from a page: what the detector knows, plus the script table's."""
    return _KNOWN_LANGUAGES


_KNOWN_LANGUAGES = DETECTOR_LANGUAGES | frozenset(SCRIPT_OF_LANGUAGE)


def dominant_script(text: str) -> str | None:
    """The script most letters of ``text`` are written in (None when it has few letters)."""
    counts: dict[str, int] = {}
    letters = 0
    for char in text[:SAMPLE_CHARS]:
        if not char.isalpha():
            continue
        letters += 1
        script = _script_of_char(char)
        counts[script] = counts.get(script, 0) + 1
    if letters < MIN_LETTERS:
        return None
    return max(counts, key=counts.__getitem__)


def detect_language(text: str) -> str | None:
    """The language of ``text`` by its content, or None when it has too few letters."""
    sample = text[:SAMPLE_CHARS]
    if sum(1 for char in sample if char.isalpha()) < MIN_LETTERS:
        return None
    code, _score = _identifier().classify(sample)
    language = normalise_language(str(code))
    if language in ("ar", "fa"):
        language = arabic_or_persian(sample) or language
    return language


def arabic_or_persian(text: str) -> str | None:
    """``fa`` or ``ar`` by letters and common words; None when the text shows neither."""
    persian = arabic = 0
    for char in text:
        if char in PERSIAN_LETTERS:
            persian += 1
        elif char in ARABIC_ONLY_LETTERS:
            arabic += 1
    for word in _WORD.findall(text):
        if word in PERSIAN_WORDS:
            persian += 3
        elif word in ARABIC_WORDS:
            arabic += 3
    if persian == arabic:
        return None
    return "fa" if persian > arabic else "ar"


def choose_language(declared: str | None, text: str, fallback: str | None = None) -> str | None:
    """The article's language: the declaration checked against the text (see module doc)."""
    declared = normalise_language(declared)
    detected = detect_language(text) if text else None
    if declared and detected and declared != detected:
        script = dominant_script(text)
        declared_script = SCRIPT_OF_LANGUAGE.get(declared)
        if script and declared_script and declared_script != script:
            logger.debug("declared %s contradicts the %s text: %s", declared, script, detected)
            return detected
        if {declared, detected} == {"ar", "fa"}:
            return arabic_or_persian(text) or declared
    return declared or detected or normalise_language(fallback)


def _script_of_char(char: str) -> str:
    code = ord(char)
    if code < 0x250:
        return "latin"
    if 0x600 <= code < 0x700 or 0x750 <= code < 0x780 or 0xFB50 <= code < 0xFF00:
        return "arabic"
    if 0x400 <= code < 0x530:
        return "cyrillic"
    if 0x370 <= code < 0x400:
        return "greek"
    if 0x590 <= code < 0x600:
        return "hebrew"
    if 0x3040 <= code < 0x3100 or 0x4E00 <= code < 0xA000 or 0x3400 <= code < 0x4DC0:
        return "han"
    if 0xAC00 <= code < 0xD7B0 or 0x1100 <= code < 0x1200:
        return "hangul"
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0].lower() if name else "other"


@lru_cache(maxsize=1)
def _identifier() -> Any:
    """The py3langid model, loaded once (about half a second)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE)
