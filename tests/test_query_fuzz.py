"""The query language under hostile input: any string parses or raises
``QuerySyntaxError`` (never another exception, never a RecursionError), long flat queries
just work, and nesting deeper than ``MAX_DEPTH`` is refused with a clear message."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.report_archive import CLUSTERS

from archive.fts import fts5_match, prefilter, tsquery
from archive.search import cluster_rules, compile_query
from config.models import ClusterConfig
from errors import QuerySyntaxError, WatchlistError
from watchlist.matcher import Watchlist
from watchlist.query import MAX_DEPTH, Query

EXAMPLES = int(os.environ.get("MEDIAWATCH_FUZZ_EXAMPLES", "80"))
RULES = cluster_rules(CLUSTERS)
WATCHLIST = Watchlist(CLUSTERS)

ATOMS = [
    "Hashd", "PMF", '"Interior Ministry"', "الحشد", "@PMF", '@"Interior Ministry"', "AND",
    "OR", "NOT", "-", "NEAR/2", "NEAR/", "NEAR", "(", ")", '"', "@", "!!!", " ", "and",
    "-x", "al-Khazali", "\t", "\u200f", "NEAR/99999999999999999999",
]  # fmt: skip


def query_text() -> st.SearchStrategy[str]:
    """Strings built from the language's own pieces, and arbitrary text."""
    pieces = st.lists(st.sampled_from(ATOMS), max_size=30).map(" ".join)
    glued = st.lists(st.sampled_from(ATOMS), max_size=30).map("".join)
    return st.one_of(pieces, glued, st.text(max_size=60))


def exercise(query: Query) -> None:
    """Everything the program does with a parsed query."""
    query.terms()
    query.positive_terms()
    query.cluster_refs()
    query.matches("Hashd and the PMF in Baghdad, الحشد الشعبي", lambda name: (True, [(0, 1)]))
    try:
        compiled = compile_query(query.source, ("PMF",), WATCHLIST)
    except WatchlistError as error:  # an unknown @cluster: one clear message
        assert "unknown cluster" in str(error)
    else:
        WATCHLIST.query_matches(compiled, "the PMF said Interior Ministry of Iraq")
    expr = prefilter(query, RULES)
    if expr is not None:
        fts5_match(expr)
        names = iter(range(10**9))
        str(tsquery(expr, lambda: f"p{next(names)}"))


@settings(max_examples=EXAMPLES, deadline=None)
@given(source=query_text())
def test_any_string_parses_or_raises_a_syntax_error(source: str) -> None:
    try:
        query = Query.parse(source)
    except QuerySyntaxError as error:
        assert 0 <= error.position <= len(source)
        return
    exercise(query)


@settings(max_examples=max(EXAMPLES // 4, 10), deadline=None)
@given(
    depth=st.integers(0, 1_500),
    opener=st.sampled_from(["(", "NOT (", "NOT(", "NOT ", "-", "x NEAR/1 ", "a OR b (c AND "]),
)
def test_deep_queries_work_or_say_nested_too_deeply(depth: int, opener: str) -> None:
    closer = ")" if "(" in opener else ""
    source = opener * depth + "Hashd" + closer * depth
    try:
        query = Query.parse(source)
    except QuerySyntaxError as error:
        assert "nested too deeply" in str(error)
        assert depth > MAX_DEPTH // 2
        return
    exercise(query)


@pytest.mark.parametrize("operator", [" OR ", " AND ", " ", " NEAR/3 "])
def test_a_thousand_terms_in_a_row_just_work(operator: str) -> None:
    source = operator.join(f"w{number}" for number in range(1_000))
    if operator == " NEAR/3 ":
        with pytest.raises(QuerySyntaxError, match="nested too deeply"):
            Query.parse(source)
        return
    query = Query.parse(source)
    exercise(query)
    assert len(query.terms()) == 1_000
    text = "w7 w999" if operator == " OR " else " ".join(f"w{n}" for n in range(1_000))
    assert query.matches(text)
    assert not query.matches("nothing here")


def test_six_hundred_nested_parentheses_are_a_clear_error() -> None:
    source = "(" * 600 + "Hashd" + ")" * 600
    with pytest.raises(QuerySyntaxError, match="nested too deeply") as caught:
        Query.parse(source)
    assert caught.value.position == MAX_DEPTH


def test_nesting_up_to_the_limit_works() -> None:
    source = "(" * (MAX_DEPTH - 1) + "Hashd OR PMF" + ")" * (MAX_DEPTH - 1)
    query = Query.parse(source)
    exercise(query)
    assert query.matches("the PMF said")


def test_a_cluster_query_of_a_thousand_terms_loads() -> None:
    query = " OR ".join(f"w{number}" for number in range(1_000))
    watchlist = Watchlist([ClusterConfig(name="Big", query=query)])
    assert [m.name for m in watchlist.match("nothing but w512 here")] == ["Big"]
