"""Watch-list matching throughput: 2,000 synthetic terms, 10,000 synthetic ~800-word articles.

Half the articles are English-like, half Arabic (with attached prefixes, harakat, tatweel,
hamza variants and punctuation), each with a handful of term mentions. Prints articles/s
on one core for ``Watchlist.match``, the share spent in normalisation, and the same work
done by a compiled regex alternation and by raw pyahocorasick without normalisation.
Figures only; nothing is asserted. Run: ``.venv/bin/python bench/bench_match.py``.
"""

from __future__ import annotations

import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import ahocorasick

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.models import ClusterConfig
from watchlist.matcher import Watchlist
from watchlist.normalise import normalise

TERMS = 2_000
ARTICLES = 10_000
WORDS = 800
SEED = 20190215

LATIN = "bcdfghklmnpqrstvwz"
VOWELS = "aeiou"
ARABIC = "ابتثجحخدذرسشصضطظعغفقكلمنهوي"


def latin_word(rng: random.Random) -> str:
    return "".join(rng.choice(LATIN) + rng.choice(VOWELS) for _ in range(rng.randint(2, 4)))


def arabic_word(rng: random.Random) -> str:
    return "".join(rng.choice(ARABIC) for _ in range(rng.randint(3, 6)))


def make_terms(rng: random.Random) -> list[str]:
    terms = []
    for index in range(TERMS):
        if index % 2:
            words = [arabic_word(rng) for _ in range(rng.randint(1, 3))]
            if rng.random() < 0.4:
                words[0] = "ال" + words[0]
        else:
            words = [latin_word(rng).title() for _ in range(rng.randint(1, 3))]
            if len(words) > 1 and rng.random() < 0.3:
                words.insert(1, "al-")
        terms.append(" ".join(words).replace("al- ", "al-"))
    return terms


def make_articles(rng: random.Random, terms: Sequence[str]) -> list[str]:
    english = [latin_word(rng) for _ in range(3_000)] + ["the", "of", "and", "in", "said"] * 200
    arabic = [arabic_word(rng) for _ in range(3_000)] + ["في", "من", "على", "إن", "قال"] * 200
    punctuation = [",", ".", ";", ":", "!", ")", "»", "،", "؛"]
    latin_terms = [t for t in terms if not "\u0600" <= t[0] <= "\u06ff"]
    arabic_terms = [t for t in terms if "\u0600" <= t[0] <= "\u06ff"]
    articles = []
    for number in range(ARTICLES):
        is_arabic = number % 2 == 1
        vocabulary = arabic if is_arabic else english
        words = rng.choices(vocabulary, k=WORDS)
        for position in rng.sample(range(WORDS), 6):
            if is_arabic:
                term = rng.choice(arabic_terms)
                if rng.random() < 0.5:
                    term = rng.choice(["و", "ب", "ل", "وال", "فال"]) + term.removeprefix("ال")
                term = term.replace("ا", "أ", 1) if rng.random() < 0.3 else term
            else:
                term = rng.choice(latin_terms)
                term = term.upper() if rng.random() < 0.2 else term
            words[position] = term
        for position in rng.sample(range(WORDS), 80):
            words[position] += rng.choice(punctuation)
        text = " ".join(words)
        if is_arabic:
            text = text.replace("ه", "ة", 3).replace("ي", "ى", 3).replace("ح", "حـ", 2)
            text = text.replace("ب", "بَ", 3)
        articles.append(text)
    return articles


def rate(label: str, work: Callable[[str], object], articles: Sequence[str]) -> float:
    started = time.perf_counter()
    for article in articles:
        work(article)
    elapsed = time.perf_counter() - started
    per_second = len(articles) / elapsed
    print(f"{label:<48} {per_second:>10,.0f} articles/s  ({elapsed:6.2f} s)")
    return elapsed / len(articles)


def main() -> None:
    rng = random.Random(SEED)
    terms = make_terms(rng)
    articles = make_articles(rng, terms)
    words = sum(len(a.split()) for a in articles) / len(articles)
    print(f"{len(terms):,} terms, {len(articles):,} articles, {words:.0f} words each on average")

    clusters = [
        ClusterConfig(name=f"cluster {n}", terms=tuple(terms[n : n + 10]))
        for n in range(0, len(terms), 10)
    ]
    started = time.perf_counter()
    watchlist = Watchlist(clusters)
    watchlist.match("warm up")
    print(f"{'build the watch-list (one automaton)':<48} {time.perf_counter() - started:>10.2f} s")

    matched = sum(len(watchlist.match(a)) for a in articles[:1_000])
    print(f"{'clusters matched per article (first 1,000)':<48} {matched / 1_000:>10.1f}")

    total = rate("Watchlist.match (normalise + match + rules)", watchlist.match, articles)
    normalising = rate("  of which normalise() alone", normalise, articles)
    english = rate("  English articles only", watchlist.match, articles[0::2])
    arabic = rate("  Arabic articles only", watchlist.match, articles[1::2])

    raw = ahocorasick.Automaton()
    for index, term in enumerate(terms):
        raw.add_word(term, index)
    raw.make_automaton()
    raw_time = rate("raw pyahocorasick, no normalisation", lambda a: list(raw.iter(a)), articles)

    alternation = re.compile(
        r"\b(?:" + "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)) + r")\b",
        re.IGNORECASE,
    )
    sample = articles[:500]
    regex_time = rate("compiled regex alternation (500 articles)", alternation.findall, sample)

    print()
    print(f"normalisation share of match time   {normalising / total:6.0%}  (target <= 50%)")
    print(f"match articles/s on one core         {1 / total:8,.0f}  (target >= 5,000)")
    print(f"  English / Arabic                   {1 / english:8,.0f} / {1 / arabic:,.0f}")
    print(f"speed-up over the regex alternation  {regex_time / total:8.1f}x")
    print(f"cost relative to raw pyahocorasick   {total / raw_time:8.1f}x slower")


if __name__ == "__main__":
    main()
