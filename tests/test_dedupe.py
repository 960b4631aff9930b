"""Dedupe: syndicated copies collapse into one story, distinct stories never do."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from spiders.parsing.dedupe import (
    Fingerprint,
    FingerprintIndex,
    check_duplicate,
    find_duplicate,
    hamming,
    normalised_title_hash,
    simhash64,
    text_simhash,
)

NOW = datetime(2026, 11, 20, 12, 0)
WORDS = [
    *("militia", "ministry", "baghdad", "parliament", "minister", "protest", "basra"),
    *("soldiers", "border", "talks", "election", "budget", "oil", "rocket", "base"),
    *("convoy", "drone", "strike", "killed", "wounded", "officials", "said", "government"),
    *("forces", "commander", "statement", "security", "council", "week", "city", "province"),
]


def article_text(seed: int, words: int = 300) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(words))


def fp(
    url: str,
    *,
    publisher: str = "a.com",
    title: str = "",
    text: str = "",
    hours: float = 0,
    article_id: int | None = None,
) -> Fingerprint:
    return Fingerprint(
        url=url,
        publisher=publisher,
        seen_at=NOW + timedelta(hours=hours),
        title_hash=normalised_title_hash(title),
        simhash=text_simhash(text),
        article_id=article_id,
        story_id=article_id,
    )


def test_title_hash_ignores_case_punctuation_and_site_suffix() -> None:
    base = normalised_title_hash("Iraq's parliament approves the 2026 budget")
    assert base is not None
    assert normalised_title_hash("IRAQ'S PARLIAMENT APPROVES THE 2026 BUDGET!") == base
    assert normalised_title_hash("Iraq's parliament approves the 2026 budget - Reuters") == base
    assert normalised_title_hash("Iraq's parliament approves the 2026 budget | BBC News") == base
    assert normalised_title_hash("Iraq's parliament rejects the 2026 budget") != base


def test_short_and_generic_titles_get_no_hash() -> None:
    for title in ("Live updates", "News", "Breaking news", "Home", "", "عاجل", "Iraq budget"):
        assert normalised_title_hash(title) is None


def test_arabic_titles_hash_through_letter_variants() -> None:
    first = normalised_title_hash("البرلمان العراقي يصوت على الموازنة العامة")
    assert first is not None
    assert normalised_title_hash("البرلمان العراقى يصوت على الموازنة العامة") == first


def test_simhash_is_signed_64_bit_and_stable() -> None:
    value = simhash64(article_text(1))
    assert -(2**63) <= value < 2**63
    assert simhash64(article_text(1)) == value
    assert text_simhash("too short to compare") is None


def test_small_edits_stay_close_and_other_texts_far() -> None:
    text = article_text(1)
    edited = text + " This article was first published by Reuters."
    assert hamming(simhash64(text), simhash64(edited)) <= 8
    assert hamming(simhash64(text), simhash64(article_text(2))) > 8
    assert hamming(-1, 0) == 64


def test_same_url_is_a_duplicate() -> None:
    stored = fp("https://a.com/1", article_id=1)
    assert find_duplicate(fp("https://a.com/1"), [stored]) == stored


def test_same_title_within_the_window_is_the_same_story() -> None:
    title = "Rocket attack hits US base near Baghdad airport"
    stored = fp("https://a.com/1", title=title, article_id=1)
    copy = fp("https://b.com/9", publisher="b.com", title=title + " - B News", hours=30)
    later = fp("https://b.com/9", publisher="b.com", title=title, hours=60)
    assert find_duplicate(copy, [stored]) == stored
    assert find_duplicate(later, [stored]) is None


def test_generic_titles_do_not_merge_stories() -> None:
    stored = fp("https://a.com/live-1", title="Live updates", text=article_text(1), article_id=1)
    other = fp("https://a.com/live-2", title="Live updates", text=article_text(2))
    assert find_duplicate(other, [stored]) is None


def test_syndicated_text_across_publishers_is_a_duplicate() -> None:
    text = article_text(3)
    stored = fp(
        "https://wire.com/x", publisher="wire.com", title="Convoy hit", text=text, article_id=5
    )
    copy = fp(
        "https://paper.com/y",
        publisher="paper.com",
        title="A different headline here",
        text="By Staff. " + text,
    )
    found = check_duplicate(copy, [stored])
    assert found is not None
    assert (found.of, found.reason) == (stored, "text")


def test_same_publisher_boilerplate_under_different_headlines_is_not_merged() -> None:
    wall = article_text(4)
    stored = fp(
        "https://a.com/1",
        title="Drone strike kills two commanders in Qaim",
        text=wall,
        article_id=1,
    )
    other = fp("https://a.com/2", title="Parliament votes on the interior minister", text=wall)
    assert find_duplicate(other, [stored]) is None


def test_the_earliest_original_wins() -> None:
    title = "Protesters storm the provincial council in Basra"
    first = fp("https://a.com/1", title=title, article_id=1)
    second = fp("https://b.com/1", publisher="b.com", title=title, article_id=2)
    assert find_duplicate(fp("https://c.com/1", title=title), [second, first]) == first


def test_index_agrees_with_the_linear_scan() -> None:
    stored = [
        fp(
            f"https://s{i}.com/x",
            publisher=f"s{i}.com",
            title=f"Story number {i} about the ministry",
            text=article_text(i),
            article_id=i,
        )
        for i in range(1, 200)
    ]
    index = FingerprintIndex(stored)
    probes = [
        fp("https://n.com/1", publisher="n.com", text=article_text(17) + " extra words here"),
        fp("https://n.com/2", publisher="n.com", title="Story number 42 about the ministry"),
        fp("https://s3.com/x"),
        fp("https://n.com/3", publisher="n.com", text=article_text(999)),
    ]
    for probe in probes:
        assert index.find(probe) == check_duplicate(probe, stored)
    assert "https://s3.com/x" in index
    assert len(index) == 199
