"""The query language: operators, precedence, positions of syntax errors."""

from __future__ import annotations

import pytest

from errors import QuerySyntaxError
from watchlist.query import And, Near, Not, Or, Query, Term


def matches(query: str, text: str) -> bool:
    return Query.parse(query).matches(text)


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("Hashd", "the Hashd said", True),
        ("Hashd", "the Hashdi said", False),
        ('"Interior Ministry"', "Iraq's interior-ministry spokesman", True),
        ('"Interior Ministry"', "the ministry of the interior", False),
        ("Hashd AND Basra", "Hashd fighters in Basra", True),
        ("Hashd AND Basra", "Hashd fighters in Mosul", False),
        ("Hashd Basra", "Basra ... Hashd", True),  # implicit AND
        ("Hashd Basra", "Hashd only", False),
        ("Hashd OR PMF", "the PMF said", True),
        ("Hashd OR PMF", "nobody said", False),
        ("Hashd NOT Kuwait", "Hashd in Basra", True),
        ("Hashd NOT Kuwait", "Hashd near Kuwait", False),
        ("Hashd -Kuwait", "Hashd near Kuwait", False),
        ("al-Khazali", "Qais al Khazali", True),  # a hyphenated word is a phrase
        ("Basra NEAR/3 protest", "Basra saw a big protest", True),
        ("Basra NEAR/3 protest", "Basra saw a very big and angry protest", False),
        ("protest NEAR/3 Basra", "Basra saw a big protest", True),  # either order
        ("(Hashd OR PMF) AND (Basra OR البصرة)", "PMF في البصرة", True),
        ("Hashd OR PMF AND Basra", "Hashd only", True),  # AND binds tighter than OR
        ("(Hashd OR PMF) AND Basra", "Hashd only", False),
        ("الحشد", "قال والحشد الشعبي", True),  # attached prefixes, folded letters
        ("سليماني", "قاسم سلیمانی", True),
        ("hashd and basra", "hashd and basra", True),  # lower-case operators are words
        ("hashd and basra", "hashd basra", False),
    ],
)
def test_operators(query: str, text: str, expected: bool) -> None:
    assert matches(query, text) is expected


def test_precedence_tree() -> None:
    root = Query.parse("a OR NOT b c NEAR/2 d").root
    assert isinstance(root, Or) and len(root.parts) == 2
    right = root.parts[1]
    assert isinstance(right, And)
    assert isinstance(right.parts[0], Not)
    assert isinstance(right.parts[1], Near) and right.parts[1].distance == 2


def test_and_or_are_flat() -> None:
    root = Query.parse("a OR b OR c d e OR f").root
    assert isinstance(root, Or) and len(root.parts) == 4
    assert isinstance(root.parts[2], And) and len(root.parts[2].parts) == 3


def test_positive_terms_and_cluster_refs() -> None:
    query = Query.parse('"Interior Ministry" NEAR/10 (Hashd OR PMF) NOT France @PMF @"US troops"')
    assert query.positive_terms() == ("Interior Ministry", "Hashd", "PMF")
    assert query.cluster_refs() == ("PMF", "US troops")
    assert [t.normalised for t in query.terms()][-1] == "france"
    assert isinstance(query.terms()[0], Term)


def test_cluster_reference_uses_the_lookup() -> None:
    query = Query.parse("@PMF NEAR/2 Basra")
    assert query.matches("x Basra", lambda name: (name == "PMF", [(0, 1)]))
    assert not query.matches("x y z w Basra", lambda name: (True, [(0, 1)]))
    assert not query.matches("Basra", lambda name: (False, ()))


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("", "empty query", 0),
        ("   ", "empty query", 3),
        ("Hashd AND", "AND needs a term", 6),
        ("OR Hashd", "expected a term", 0),
        ("(Hashd OR PMF", "missing ')'", 0),
        ("Hashd)", "unbalanced ')'", 5),
        ('Hashd "Interior', "unterminated phrase", 6),
        ("Hashd NEAR Basra", "NEAR needs a distance", 6),
        ("Hashd NEAR/ Basra", "NEAR needs a distance", 6),
        ("a NEAR/5 NOT b", "NEAR cannot take a NOT", 2),
        ("Hashd AND @", "'@' needs a cluster name", 10),
        ("Hashd !!!", "no letters or digits", 6),
        ("Hashd ()", "empty parentheses", 6),
        ("Hashd NOT", "NOT needs a term", 6),
    ],
)
def test_syntax_errors_point_at_the_problem(query: str, message: str, position: int) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        Query.parse(query)
    assert message in str(caught.value)
    assert caught.value.position == position
    assert caught.value.query == query
    assert str(caught.value).splitlines()[-1] == "  " + " " * position + "^"
