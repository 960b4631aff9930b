"""Is this article a copy of one we already have? Pure functions, no database, no clock.

"Count stories, not copies": a syndicated wire story reprinted by fifty outlets is one
story. Three checks, in order (the first that fires decides):

1. **Same canonical URL**: the database's unique key; the store counts such an item as
   already known and does not store it again (``find_duplicate`` also reports it).
2. **Same normalised title within ``TITLE_WINDOW`` (48 h)** of the other article's
   ``seen_at``. Titles are normalised (``watchlist.normalise``: case, accents, Arabic
   letter forms, punctuation), with a short trailing site name ("... - Reuters",
   "... | BBC News") removed. Generic titles never match: a title needs at least
   ``MIN_TITLE_WORDS`` (4) words and ``MIN_TITLE_CHARS`` (20) characters and must not be a
   stock phrase ("Live updates", "Latest news", ...), else it gets no title hash.
3. **Near-duplicate text**: SimHash over 3-word shingles, 64 bits; a Hamming distance
   of at most ``MAX_HAMMING`` (8) between texts of at least ``MIN_SIMHASH_WORDS`` (60)
   words each. Shorter texts (teasers, feed summaries) get no SimHash: too few shingles
   make the hash unstable. Two articles of the *same publisher* with near-identical
   text but different titles are not merged: that is the publisher's boilerplate
   (a consent wall or a paywall teaser extracted instead of the article).

A duplicate points at the *earliest stored* matching article (for the text check, the
nearest one) and inherits its story id.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from watchlist.normalise import normalise

logger = logging.getLogger(__name__)

TITLE_WINDOW = timedelta(hours=48)
MIN_TITLE_WORDS = 4
MIN_TITLE_CHARS = 20
MAX_SITE_SUFFIX_WORDS = 4
"""A trailing " - X" / " | X" of at most this many words is taken for a site name."""

SHINGLE_WORDS = 3
MIN_SIMHASH_WORDS = 60
MAX_HAMMING = 8
"""Measured on the 258 fundus bodies: unrelated articles are 15+ bits apart (33,000
pairs; random 64-bit hashes agree within 8 bits with odds ~3e-10); a copy with 5% of
its words cut and a byline added is within 3 bits only 24% of the time, within 8 bits
92%. SimHash is that sensitive because each bit is a vote of all shingles."""

GENERIC_TITLES = frozenset(
    normalise(title)
    for title in (
        "live updates", "live", "live blog", "breaking news", "latest news", "news",
        "home", "homepage", "top stories", "news in brief", "the latest", "live coverage",
        "today's headlines", "morning briefing", "evening briefing", "daily briefing",
        "news summary", "photos", "video", "watch live", "opinion", "editorial",
        "أخبار", "آخر الأخبار", "عاجل", "اخبار عاجلة", "مباشر", "تغطية مباشرة",
        "اخبار", "خبر فوری", "آخرین اخبار", "پخش زنده",
    )
)  # fmt: skip

_SITE_SUFFIX = re.compile(r"\s+[-|–—:·•»]\s+([^-|–—:·•»]+)$")
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Fingerprint:
    """What dedupe compares. ``article_id``/``story_id`` are None for a candidate not yet stored."""

    url: str
    publisher: str
    seen_at: datetime
    title_hash: str | None
    simhash: int | None
    """Signed 64-bit, None when the text is too short to compare."""
    article_id: int | None = None
    story_id: int | None = None


@dataclass(frozen=True)
class Duplicate:
    """The stored article a candidate copies, and which check said so."""

    of: Fingerprint
    reason: str
    """``url``, ``title`` or ``text``."""


def strip_site_name(title: str) -> str:
    """``"Iraq votes on budget - Reuters"`` -> ``"Iraq votes on budget"`` (short suffixes only)."""
    title = " ".join(title.split())
    match = _SITE_SUFFIX.search(title)
    if match and len(match.group(1).split()) <= MAX_SITE_SUFFIX_WORDS:
        head = title[: match.start()]
        if len(head.split()) >= MIN_TITLE_WORDS:
            return head
    return title


def normalised_title_hash(title: str | None) -> str | None:
    """A hash of the normalised title, or None when the title is too short or generic."""
    if not title:
        return None
    words = normalise(strip_site_name(title))
    if (
        len(words.split()) < MIN_TITLE_WORDS
        or len(words) < MIN_TITLE_CHARS
        or words in GENERIC_TITLES
    ):
        return None
    return hashlib.blake2b(words.encode("utf-8"), digest_size=16).hexdigest()


def simhash64(text: str) -> int:
    """SimHash of ``text``'s 3-word shingles (normalised words), as a signed 64-bit int."""
    words = normalise(text).split()
    if len(words) < SHINGLE_WORDS:
        shingles = [" ".join(words)]
    else:
        shingles = [
            " ".join(words[index : index + SHINGLE_WORDS])
            for index in range(len(words) - SHINGLE_WORDS + 1)
        ]
    digests = b"".join(
        hashlib.blake2b(shingle.encode("utf-8"), digest_size=8).digest() for shingle in shingles
    )
    bits = np.unpackbits(np.frombuffer(digests, dtype=np.uint8).reshape(len(shingles), 8), axis=1)
    votes = bits.sum(axis=0, dtype=np.int64) * 2 - len(shingles)
    value = int.from_bytes(np.packbits(votes > 0).tobytes(), "big")
    return to_signed64(value)


def text_simhash(text: str | None) -> int | None:
    """``simhash64`` for texts long enough to compare (``MIN_SIMHASH_WORDS``), else None."""
    if not text or len(text.split()) < MIN_SIMHASH_WORDS:
        return None
    return simhash64(text)


def to_signed64(value: int) -> int:
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes (signed or not)."""
    return ((a ^ b) & _MASK64).bit_count()


def find_duplicate(candidate: Fingerprint, recent: Sequence[Fingerprint]) -> Fingerprint | None:
    """The stored article ``candidate`` copies, if any (see the module doc for the rules)."""
    found = check_duplicate(candidate, recent)
    return found.of if found else None


def check_duplicate(candidate: Fingerprint, recent: Iterable[Fingerprint]) -> Duplicate | None:
    """Like ``find_duplicate``, saying which check fired."""
    by_title: Fingerprint | None = None
    by_text: tuple[int, Fingerprint] | None = None
    for other in recent:
        if other.url == candidate.url:
            return Duplicate(other, "url")
        if title_matches(candidate, other) and (by_title is None or _earlier(other, by_title)):
            by_title = other
        distance = text_distance(candidate, other)
        if distance is not None and (
            by_text is None
            or distance < by_text[0]
            or (distance == by_text[0] and _earlier(other, by_text[1]))
        ):
            by_text = (distance, other)
    if by_title is not None:
        return Duplicate(by_title, "title")
    if by_text is not None:
        return Duplicate(by_text[1], "text")
    return None


def title_matches(candidate: Fingerprint, other: Fingerprint) -> bool:
    return (
        candidate.title_hash is not None
        and candidate.title_hash == other.title_hash
        and abs(candidate.seen_at - other.seen_at) <= TITLE_WINDOW
    )


def text_distance(candidate: Fingerprint, other: Fingerprint) -> int | None:
    """Hamming distance when the texts count as near-duplicates, else None."""
    if candidate.simhash is None or other.simhash is None:
        return None
    distance = hamming(candidate.simhash, other.simhash)
    if distance > MAX_HAMMING:
        return None
    if (
        candidate.publisher == other.publisher
        and candidate.title_hash is not None
        and other.title_hash is not None
        and candidate.title_hash != other.title_hash
    ):
        return None  # the same outlet's boilerplate under different headlines
    return distance


def _earlier(a: Fingerprint, b: Fingerprint) -> bool:
    """Is ``a`` the older of two stored articles (by id, else by seen_at)?"""
    if a.article_id is not None and b.article_id is not None:
        return a.article_id < b.article_id
    return a.seen_at < b.seen_at


class FingerprintIndex:
    """Recent fingerprints in memory, answering ``check_duplicate`` without a full scan.

    URL and title lookups are dict hits; the SimHash check is one vectorised XOR and
    popcount over every stored hash (a week of articles is a few tens of thousands:
    well under a millisecond)."""

    def __init__(self, fingerprints: Iterable[Fingerprint] = ()) -> None:
        self._by_url: dict[str, Fingerprint] = {}
        self._by_title: dict[str, list[Fingerprint]] = {}
        self._hashed: list[Fingerprint] = []
        self._hashes = np.zeros(1024, dtype=np.uint64)
        for fingerprint in fingerprints:
            self.add(fingerprint)

    def __len__(self) -> int:
        return len(self._by_url)

    def __contains__(self, url: object) -> bool:
        return url in self._by_url

    def add(self, fingerprint: Fingerprint) -> None:
        if fingerprint.url in self._by_url:
            return
        self._by_url[fingerprint.url] = fingerprint
        if fingerprint.title_hash is not None:
            self._by_title.setdefault(fingerprint.title_hash, []).append(fingerprint)
        if fingerprint.simhash is not None:
            count = len(self._hashed)
            if count == len(self._hashes):
                self._hashes = np.concatenate([self._hashes, np.zeros_like(self._hashes)])
            self._hashes[count] = fingerprint.simhash & _MASK64
            self._hashed.append(fingerprint)

    def find(self, candidate: Fingerprint) -> Duplicate | None:
        """``check_duplicate(candidate, everything in the index)``, fast."""
        same_url = self._by_url.get(candidate.url)
        if same_url is not None:
            return Duplicate(same_url, "url")
        nearby: list[Fingerprint] = []
        if candidate.title_hash is not None:
            nearby.extend(self._by_title.get(candidate.title_hash, ()))
        if candidate.simhash is not None and self._hashed:
            hashes = self._hashes[: len(self._hashed)]
            distances = np.bitwise_count(hashes ^ np.uint64(candidate.simhash & _MASK64))
            close = np.flatnonzero(distances <= MAX_HAMMING)
            nearby.extend(self._hashed[int(index)] for index in close)
        return check_duplicate(candidate, nearby) if nearby else None
