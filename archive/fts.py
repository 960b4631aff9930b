"""From a parsed query to a full-text prefilter: a pure function of the query.

The prefilter must keep every article the matcher would accept (it may keep more):

- a term becomes its spellings (``watchlist.terms.term_variants``: Arabic prefixes,
  optional ``al``) as phrases of normalised words, OR-ed;
- ``a AND b`` and ``a NEAR/n b`` need both; ``a OR b`` needs either;
- ``NOT x`` narrows nothing (an AND keeps its other side; anything else gives up);
- ``@Name`` becomes the cluster's terms OR its query's prefilter (context and exclude
  only ever remove articles).

``None`` means "no usable positive term": the caller scans instead.

Renderings keep user text out of SQL: ``fts5_match`` quotes every word for an FTS5
``MATCH`` string that is passed as a bound parameter; ``tsquery`` builds PostgreSQL
``plainto_tsquery(:p)`` calls joined with ``&&`` and ``||``, every word a bound parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import BindParameter, ColumnElement, bindparam, func, literal_column

from watchlist.normalise import normalise
from watchlist.query import And, ClusterRef, Near, Node, Not, Or, Query, Term
from watchlist.terms import term_variants


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Prefilter, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Prefilter, ...]


Prefilter = Phrase | AllOf | AnyOf


@dataclass(frozen=True)
class ClusterRule:
    """What a cluster matches on, for ``@Name``: its terms, and its query if any."""

    terms: tuple[str, ...]
    query: str | None = None


def prefilter(query: Query, clusters: Mapping[str, ClusterRule]) -> Prefilter | None:
    """The prefilter for ``query``, or None when it has no usable positive term."""
    return _node(query.root, clusters, frozenset())


def _node(
    node: Node, clusters: Mapping[str, ClusterRule], visiting: frozenset[str]
) -> Prefilter | None:
    if isinstance(node, Term):
        return _any(Phrase(tuple(v.split(" "))) for v in term_variants(node.normalised))
    if isinstance(node, ClusterRef):
        return _cluster(node.name, clusters, visiting)
    if isinstance(node, Not):
        return None
    children = node.parts if isinstance(node, And | Or) else (node.left, node.right)
    parts = [_node(child, clusters, visiting) for child in children]
    if isinstance(node, And | Near):
        kept = [part for part in parts if part is not None]
        if not kept:
            return None
        return _all(kept)
    if any(part is None for part in parts):
        return None
    return _any(part for part in parts if part is not None)


def _cluster(
    name: str, clusters: Mapping[str, ClusterRule], visiting: frozenset[str]
) -> Prefilter | None:
    rule = clusters.get(name)
    if rule is None or name in visiting:
        return None
    parts: list[Prefilter | None] = [
        _node(Term(term, normalise(term), 0), clusters, visiting) for term in rule.terms
    ]
    if rule.query:
        parts.append(_node(Query.parse(rule.query).root, clusters, visiting | {name}))
    if not parts or any(part is None for part in parts):
        return None
    return _any(part for part in parts if part is not None)


def _all(parts: Iterable[Prefilter]) -> Prefilter:
    flat: list[Prefilter] = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, AllOf) else [part])
    unique = tuple(dict.fromkeys(flat))
    return unique[0] if len(unique) == 1 else AllOf(unique)


def _any(parts: Iterable[Prefilter]) -> Prefilter:
    flat: list[Prefilter] = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, AnyOf) else [part])
    unique = tuple(dict.fromkeys(flat))
    return unique[0] if len(unique) == 1 else AnyOf(unique)


# ---- renderings ----------------------------------------------------------------------


def fts5_match(expr: Prefilter) -> str:
    """An FTS5 query string: every word double-quoted (quotes doubled), phrases with ``+``."""
    if isinstance(expr, Phrase):
        return " + ".join('"' + word.replace('"', '""') + '"' for word in expr.words)
    joiner = " AND " if isinstance(expr, AllOf) else " OR "
    return "(" + joiner.join(fts5_match(part) for part in expr.parts) + ")"


def tsquery(expr: Prefilter, name: Callable[[], str]) -> ColumnElement[object]:
    """A PostgreSQL tsquery expression; ``name()`` gives fresh bind parameter names.

    A phrase becomes ``plainto_tsquery('simple', :p)`` (its words ANDed: the stored
    body keeps each word once, without positions to check adjacency)."""
    if isinstance(expr, Phrase):
        words: BindParameter[str] = bindparam(name(), " ".join(expr.words))
        return func.plainto_tsquery(literal_column("'simple'::regconfig"), words)
    parts = [tsquery(part, name) for part in expr.parts]
    return _balanced(parts, "&&" if isinstance(expr, AllOf) else "||")


def _balanced(parts: Sequence[ColumnElement[object]], operator: str) -> ColumnElement[object]:
    """``parts`` joined with ``operator`` as a balanced tree: a thousand OR-ed terms nest
    ten levels deep, not a thousand (SQL compilers recurse on nesting)."""
    if len(parts) == 1:
        return parts[0]
    middle = len(parts) // 2
    left = _balanced(parts[:middle], operator)
    right = _balanced(parts[middle:], operator)
    return left.op(operator, return_type=left.type)(right).self_group()
