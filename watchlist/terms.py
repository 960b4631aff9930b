"""Finding terms in normalised text: one Aho-Corasick automaton for many terms.

A term matches whole normalised words only. Each term is expanded into the
spellings it stands for before it goes into the automaton:

- Arabic-script terms accept the attached prefixes in front of their first word,
  without stemming the rest: a conjunction (و ف), then a preposition (ب ك ل),
  then the article ال; ``ل`` + ``ال`` is written ``لل``. A term written without the
  article also matches with it (``حشد`` finds ``الحشد``, ``والحشد``, ``للحشد``); a term
  written with it needs it (``الحشد`` finds ``والحشد``, ``بالحشد``, ``للحشد``, not ``حشد``).
- Latin-script terms treat a non-initial ``al``/``el`` as optional and interchangeable
  (``Qais al-Khazali`` finds ``Qais Khazali`` and ``Qais el-Khazali``); a leading ``al`` is
  optional when at least two words remain (``al-Hashd al-Shaabi`` finds ``Hashd al-Shaabi``).

Hits carry normalised word positions ``[start, end)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import ahocorasick

from watchlist.normalise import normalise

CONJUNCTIONS = ("", "و", "ف")
PREPOSITIONS = ("", "ب", "ك", "ل")
ARTICLE = "ال"
LATIN_ARTICLES = ("al", "el")
MAX_VARIANTS = 64


class Hit(NamedTuple):
    """Term ``term_id`` found at normalised words ``[start, end)``."""

    start: int
    end: int
    term_id: int


def is_arabic_script(word: str) -> bool:
    code = ord(word[0]) if word else 0
    return 0x0600 <= code <= 0x08FF or 0xFB50 <= code <= 0xFEFF


def arabic_prefixed(word: str) -> list[str]:
    """``word`` with every accepted combination of attached prefixes (itself first)."""
    articles: tuple[str, ...] = ("", ARTICLE)
    stem = word
    if word.startswith(ARTICLE) and len(word) > len(ARTICLE) + 1:
        stem, articles = word[len(ARTICLE) :], (ARTICLE,)
    forms = []
    for conjunction, preposition, article in itertools.product(
        CONJUNCTIONS, PREPOSITIONS, articles
    ):
        if preposition == "ل" and article:
            forms.append(conjunction + "لل" + stem)
        else:
            forms.append(conjunction + preposition + article + stem)
    return list(dict.fromkeys(forms))


def _latin_options(words: Sequence[str]) -> list[list[str]]:
    options: list[list[str]] = []
    for index, word in enumerate(words):
        if index > 0 and word in LATIN_ARTICLES and index < len(words) - 1:
            options.append([word, *(a for a in LATIN_ARTICLES if a != word), ""])
        elif index == 0 and word == "al" and len(words) >= 3:
            options.append([word, ""])
        else:
            options.append([word])
    return options


def term_variants(normalised: str) -> list[str]:
    """The normalised spellings a normalised term matches (itself first)."""
    words = normalised.split(" ")
    if not normalised:
        return []
    if is_arabic_script(words[0]):
        rest = " ".join(words[1:])
        return [f"{first} {rest}".strip() for first in arabic_prefixed(words[0])]
    variants = []
    for combination in itertools.islice(itertools.product(*_latin_options(words)), MAX_VARIANTS):
        variants.append(" ".join(word for word in combination if word))
    return list(dict.fromkeys(variants))


class TermIndex:
    """Many normalised terms, found in one pass over normalised text.

    ``add`` returns a term id; ``find`` returns every ``Hit`` (overlapping ones too).
    """

    def __init__(self) -> None:
        self._terms: dict[str, int] = {}
        self._keys: dict[str, set[int]] = {}
        self._automaton: Any = None

    def __len__(self) -> int:
        return len(self._terms)

    def add(self, term: str) -> int:
        """Add a term given in any spelling; returns its id (the same for equal terms)."""
        normalised = normalise(term)
        if not normalised:
            raise ValueError(f"term {term!r} normalises to nothing")
        if normalised in self._terms:
            return self._terms[normalised]
        term_id = self._terms[normalised] = len(self._terms)
        for variant in term_variants(normalised):
            self._keys.setdefault(f" {variant} ", set()).add(term_id)
        self._automaton = None
        return term_id

    def _build(self) -> Any:
        automaton = ahocorasick.Automaton()
        for key, ids in self._keys.items():
            automaton.add_word(key, (len(key), key.count(" ") - 1, tuple(sorted(ids))))
        if len(automaton):
            automaton.make_automaton()
        return automaton

    def find(self, normalised: str) -> list[Hit]:
        """Hits in normalised text (words separated by single spaces), by position."""
        automaton = self._automaton
        if automaton is None:
            automaton = self._automaton = self._build()
        if not len(automaton) or not normalised:
            return []
        padded = f" {normalised} "
        raw = sorted(
            (end - length + 1, words, ids) for end, (length, words, ids) in automaton.iter(padded)
        )
        hits: list[Hit] = []
        word = 0
        position = 0
        for start_char, words, ids in raw:
            word += padded.count(" ", position, start_char)
            position = start_char
            hits.extend(Hit(word, word + words, term_id) for term_id in ids)
        return hits


def nested_in(hits: Iterable[Hit]) -> dict[Hit, Hit]:
    """Hits whose words lie strictly inside a longer hit, mapped to that longer hit."""
    ordered = sorted(set(hits), key=lambda hit: (hit.start, -hit.end))
    inside: dict[Hit, Hit] = {}
    widest: Hit | None = None
    for hit in ordered:
        if (
            widest is not None
            and widest.end >= hit.end
            and (widest.start, widest.end) != (hit.start, hit.end)
        ):
            inside[hit] = widest
        elif widest is None or hit.end > widest.end:
            widest = hit
    return inside


def gap(a: tuple[int, int], b: tuple[int, int]) -> int:
    """Words strictly between two word spans (0 when adjacent or overlapping)."""
    return max(0, b[0] - a[1], a[0] - b[1])
