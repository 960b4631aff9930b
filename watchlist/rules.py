"""What a cluster rule is to the watch-list, and the checks one rule must pass on its own.

The watch-list sits below the config: it knows a rule by this protocol, never by the
config model that happens to implement it (``config.models.ClusterConfig``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Protocol

from errors import QuerySyntaxError
from watchlist.normalise import normalise
from watchlist.query import Query


class ClusterRule(Protocol):
    """One keyword cluster: when an article counts for it."""

    @property
    def name(self) -> str: ...

    @property
    def terms(self) -> Sequence[str]: ...

    @property
    def context(self) -> Sequence[str]: ...

    @property
    def exclude(self) -> Sequence[str]: ...

    @property
    def near(self) -> int | None: ...

    @property
    def query(self) -> str | None: ...


@lru_cache(maxsize=4096)
def parse_query(source: str) -> Query:
    """``Query.parse``, once per text: validating a rule and compiling its watch-list share
    the parse, like ``re`` shares compiled patterns (a ``Query`` is immutable)."""
    return Query.parse(source)


def check_cluster(rule: ClusterRule) -> None:
    """Raise ``ValueError`` naming the term or query a cluster cannot use."""
    for role, terms in (("term", rule.terms), ("context", rule.context), ("exclude", rule.exclude)):
        _check_terms(role, terms)
    if rule.query is not None:
        if not rule.query.strip():
            raise ValueError("empty query")
        try:
            parse_query(rule.query)
        except QuerySyntaxError as exc:
            shown = rule.query if len(rule.query) <= 80 else rule.query[:77] + "..."
            raise ValueError(f"query {shown!r}: {str(exc).splitlines()[0]}") from None


def _check_terms(role: str, terms: Iterable[str]) -> None:
    for term in terms:
        if not term.strip():
            raise ValueError(f"empty {role}")
        if not normalise(term):
            raise ValueError(f"{role} {term!r} has no letters or digits")
