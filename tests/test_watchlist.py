"""The matcher: whole words, nested terms, prefixes, context, near, exclude, queries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.load import parse_config
from config.models import ClusterConfig
from errors import ConfigError, WatchlistError
from watchlist.matcher import Watchlist


def cluster(name: str, *terms: str, **options: object) -> ClusterConfig:
    return ClusterConfig(name=name, terms=terms, **options)  # type: ignore[arg-type]


def names(watchlist: Watchlist, text: str, title: str = "") -> list[str]:
    return [m.name for m in watchlist.match(text, title)]


HEZBOLLAH = cluster("Hezbollah", "Hezbollah", "Hizballah", "حزب الله")
KATAIB = cluster("Kataib Hezbollah", "Kata'ib Hezbollah", "كتائب حزب الله")
PMF = cluster("PMF", "Popular Mobilization Forces", "الحشد الشعبي", "حشد")


def test_whole_words_only() -> None:
    watchlist = Watchlist([cluster("ISIS", "ISIS")])
    assert names(watchlist, "the crisis in Iraq") == []
    assert names(watchlist, "ISIS-held areas") == ["ISIS"]


def test_match_reports_config_spelling_and_hits() -> None:
    watchlist = Watchlist([HEZBOLLAH])
    [match] = watchlist.match("Hizballah said... HEZBOLLAH’S leader, and حزب‌الله")
    assert match.terms == ("Hizballah", "Hezbollah", "حزب الله")
    assert match.hits == 3


def test_nested_term_counts_only_for_the_longer_term() -> None:
    watchlist = Watchlist([HEZBOLLAH, KATAIB])
    assert names(watchlist, "Kataib Hezbollah fired rockets") == ["Kataib Hezbollah"]
    assert names(watchlist, "وأعلنت كتائب حزب الله") == ["Kataib Hezbollah"]
    both = "Kata'ib Hezbollah, unlike Lebanon's Hezbollah, ..."
    assert names(watchlist, both) == ["Hezbollah", "Kataib Hezbollah"]
    [verdict] = [v for v in watchlist.explain("Kataib Hezbollah fired") if v.name == "Hezbollah"]
    assert verdict.status == "nested"
    assert verdict.hits[0].nested_in == "Kata'ib Hezbollah"


def test_same_words_two_spellings_count_once() -> None:
    watchlist = Watchlist([cluster("Quds", "Quds Force", "al-Quds Force")])
    assert watchlist.match("the Quds Force")[0].hits == 1


@pytest.mark.parametrize(
    "text",
    [
        "الحشد الشعبي",
        "والحشد الشعبي",
        "بالحشد الشعبي",
        "للحشد الشعبي",
        "وللحشد الشعبي",
        "فالحشد الشعبي",
        "وبالحشد الشعبي",
        "الحشد الشعبيّ",
        "الحشـد الشعبي",
    ],
)
def test_arabic_prefixes_on_a_definite_term(text: str) -> None:
    watchlist = Watchlist([cluster("PMF", "الحشد الشعبي")])
    assert names(watchlist, f"قال {text} اليوم") == ["PMF"]


@pytest.mark.parametrize("text", ["حشد", "الحشد", "والحشد", "للحشد", "بحشد", "وبالحشد"])
def test_bare_arabic_term_also_matches_with_the_article(text: str) -> None:
    watchlist = Watchlist([cluster("PMF", "حشد")])
    assert names(watchlist, text) == ["PMF"]


@pytest.mark.parametrize("text", ["حشدت", "الحشود", "محشد", "والحشدي", "ساحشد"])
def test_prefixes_do_not_stem_the_rest(text: str) -> None:
    watchlist = Watchlist([cluster("PMF", "حشد")])
    assert names(watchlist, text) == []


def test_definite_term_needs_its_article() -> None:
    watchlist = Watchlist([cluster("PMF", "الحشد الشعبي")])
    assert names(watchlist, "حشد شعبي كبير") == []


@pytest.mark.parametrize(
    "text", ["Qais al-Khazali", "Qais Khazali", "Qais el-Khazali", "QAIS AL KHAZALI"]
)
def test_latin_al_is_optional_inside_a_term(text: str) -> None:
    watchlist = Watchlist([cluster("AAH", "Qais al-Khazali")])
    assert names(watchlist, f"said {text} on Monday") == ["AAH"]


def test_leading_al_kept_in_two_word_names() -> None:
    watchlist = Watchlist([cluster("Gore", "Al Gore")])
    assert names(watchlist, "Gore said") == []


INTERIOR = cluster(
    "Interior Ministry", "Interior Ministry", "وزارة الداخلية", context=("Iraq", "العراق")
)


def test_context_required() -> None:
    watchlist = Watchlist([INTERIOR])
    assert names(watchlist, "France's Interior Ministry said") == []
    assert names(watchlist, "The Interior Ministry in Iraq said") == ["Interior Ministry"]
    assert names(watchlist, "قالت وزارة الداخلية في العراق") == ["Interior Ministry"]
    [verdict] = watchlist.explain("France's Interior Ministry said")
    assert verdict.status == "no context"


def test_context_within_near_words() -> None:
    near = cluster("Interior Ministry", "Interior Ministry", context=("Iraq",), near=3)
    watchlist = Watchlist([near])
    assert names(watchlist, "Interior Ministry officials in Iraq") == ["Interior Ministry"]
    far = "Interior Ministry officials said on Monday that in Iraq"
    assert names(watchlist, far) == []
    assert "within 3 words" in watchlist.explain(far)[0].reason


def test_title_counts_as_part_of_the_article() -> None:
    watchlist = Watchlist([INTERIOR])
    assert names(watchlist, "the Interior Ministry said", title="Iraq news") == [
        "Interior Ministry"
    ]


def test_exclude_vetoes() -> None:
    watchlist = Watchlist([cluster("PMF", "PMF", exclude=("Pakistan",))])
    assert names(watchlist, "PMF said") == ["PMF"]
    assert names(watchlist, "PMF said in Pakistan") == []
    [verdict] = watchlist.explain("PMF said in Pakistan")
    assert verdict.status == "excluded" and "Pakistan" in verdict.reason


def test_query_rule_and_cluster_reference() -> None:
    clusters = [
        PMF,
        ClusterConfig(name="Basra PMF", query="@PMF NEAR/5 (Basra OR البصرة)"),
        ClusterConfig(name="Acronym", terms=("Hashd",), query="PMF AND Iraq"),
    ]
    watchlist = Watchlist(clusters)
    assert names(watchlist, "Popular Mobilization Forces in Basra") == ["PMF", "Basra PMF"]
    assert names(watchlist, "Popular Mobilization Forces ... " + "x " * 10 + "Basra") == ["PMF"]
    assert names(watchlist, "the PMF in Iraq") == ["Acronym"]
    assert names(watchlist, "the PMF in Japan") == []
    assert watchlist.query_matches('@PMF AND "Basra"', "الحشد الشعبي in Basra")


def test_unknown_reference_and_cycle_are_errors() -> None:
    with pytest.raises(WatchlistError, match="unknown cluster @Nope"):
        Watchlist([ClusterConfig(name="A", query="@Nope")])
    with pytest.raises(WatchlistError, match="cycle"):
        Watchlist([ClusterConfig(name="A", query="@B"), ClusterConfig(name="B", query="@A")])


def test_explain_gives_original_positions() -> None:
    watchlist = Watchlist([INTERIOR, KATAIB])
    text = "In Baghdad, the Iraqi interior-ministry said Kata’ib Hezbollah..."
    verdicts = {v.name: v for v in watchlist.explain(text, title="العراق")}
    ministry = verdicts["Interior Ministry"]
    assert ministry.matched
    [term, context] = sorted(ministry.hits, key=lambda h: h.role != "term")
    assert term.excerpt == "interior-ministry" and text[slice(*term.span)] == term.excerpt
    assert context.field == "title" and context.excerpt == "العراق"
    assert verdicts["Kataib Hezbollah"].hits[0].excerpt == "Kata’ib Hezbollah"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "A", "terms": ["Hashd", " "]}, r'\[clusters\] #1 "A": empty term'),
        ({"name": "A", "terms": ["!!!"]}, "term '!!!' has no letters"),
        ({"name": "A", "terms": ["x"], "context": ["ـ"]}, "context 'ـ' has no letters"),
        ({"name": "A", "query": "Hashd AND"}, '"A".*query .*AND needs a term'),
        ({"name": "A"}, "needs terms or a query"),
    ],
)
def test_config_errors_name_the_cluster(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"clusters": [data]})


WORDS = st.lists(st.sampled_from(["the", "said", "في", "قال", "Iraq", "ministry", "،", "."]))


@given(WORDS, WORDS, st.sampled_from(["Kata'ib Hezbollah", "الحشد الشعبي", "Qais al-Khazali"]))
def test_a_term_is_found_inside_any_text(before: list[str], after: list[str], term: str) -> None:
    watchlist = Watchlist([cluster("C", term)])
    text = " ".join([*before, term, *after])
    assert names(watchlist, text) == ["C"]
    assert [v.name for v in watchlist.explain(text) if v.matched] == ["C"]
