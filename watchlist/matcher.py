"""The watch-list matcher: which clusters an article counts for, and why.

All terms of all clusters (terms, context, exclude, query terms) go into one
``TermIndex`` (one Aho-Corasick automaton over normalised text). For an article:

1. Term hits nested strictly inside a longer term hit are suppressed: text about
   "Kata'ib Hezbollah" is a Kata'ib Hezbollah mention and does **not** count for the
   Hezbollah cluster at that position (it does if Hezbollah is mentioned elsewhere).
   Context, exclude and query terms are never suppressed.
2. A cluster with ``context`` counts only when a context term occurs in the article,
   and within ``near`` words of a term hit when ``near`` is set.
3. Any ``exclude`` term in the article vetoes the cluster.
4. A cluster with a ``query`` also counts when the query holds (the query carries its
   own context; ``exclude`` still vetoes). ``@Name`` reuses another cluster's verdict.

The title, when given, is matched as if it were the first lines of the text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from errors import WatchlistError
from watchlist.normalise import Normalised, normalise, normalise_with_spans
from watchlist.query import Outcome, Query, Span
from watchlist.rules import ClusterRule, parse_query
from watchlist.terms import Hit, TermIndex, gap, nested_in

logger = logging.getLogger(__name__)

Role = Literal["term", "context", "exclude", "query"]
Status = Literal["matched", "no term", "nested", "no context", "excluded", "query false"]

_BARRIER = "\x1f"
"""Separates title from text: never part of a normalised term, so no phrase spans it."""


@dataclass(frozen=True)
class ClusterMatch:
    """A cluster that counts for the article: the configured terms found, and how often."""

    name: str
    terms: tuple[str, ...]
    hits: int


@dataclass(frozen=True)
class TermHit:
    """One term occurrence; ``span`` is in ``field`` of the original article."""

    term: str
    role: Role
    words: Span
    field: Literal["title", "text"] = "text"
    span: tuple[int, int] = (0, 0)
    excerpt: str = ""
    nested_in: str | None = None


@dataclass(frozen=True)
class ClusterVerdict:
    """Everything a cluster saw in one article, and the decision."""

    name: str
    matched: bool
    status: Status
    reason: str
    hits: tuple[TermHit, ...]

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(h.term for h in self.hits if h.role == "term" and not h.nested_in)
        )


@dataclass(frozen=True)
class _Entry:
    cluster: int
    role: Role
    term: str  # config spelling, or the normalised query term


@dataclass(frozen=True)
class _Decision:
    status: Status
    reason: str
    counted: tuple[tuple[Hit, _Entry], ...]
    spans: Sequence[Span]

    @property
    def matched(self) -> bool:
        return self.status == "matched"


class Watchlist:
    """The configured clusters, compiled for matching many articles."""

    def __init__(self, clusters: Sequence[ClusterRule]) -> None:
        self._rules = tuple(clusters)
        self._queries = tuple(parse_query(c.query) if c.query else None for c in clusters)
        self._names = {c.name: i for i, c in enumerate(clusters)}
        self._index = TermIndex()
        self._entries: list[list[_Entry]] = []
        self._term_ids: set[int] = set()
        for number, cluster in enumerate(clusters):
            for role, terms in (
                ("term", cluster.terms),
                ("context", cluster.context),
                ("exclude", cluster.exclude),
            ):
                for term in terms:
                    self._add(term, _Entry(number, role, term))  # type: ignore[arg-type]
            query = self._queries[number]
            for query_term in query.terms() if query else ():
                self._add(query_term.normalised, _Entry(number, "query", query_term.normalised))
        self._order = self._evaluation_order()
        logger.debug("watch-list: %d clusters, %d terms", len(clusters), len(self._index))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self._rules)

    def _add(self, term: str, entry: _Entry) -> None:
        term_id = self._index.add(term)
        if term_id == len(self._entries):
            self._entries.append([])
        self._entries[term_id].append(entry)
        if entry.role == "term":
            self._term_ids.add(term_id)

    def _evaluation_order(self) -> list[int]:
        """Clusters after the clusters their queries reference; cycles are errors."""
        order: list[int] = []
        state: dict[int, str] = {}

        def visit(number: int, path: tuple[str, ...]) -> None:
            if state.get(number) == "done":
                return
            name = self._rules[number].name
            if state.get(number) == "visiting":
                cycle = " -> ".join((*path, name))
                raise WatchlistError(f"cluster queries reference each other in a cycle: {cycle}")
            state[number] = "visiting"
            query = self._queries[number]
            for ref in query.cluster_refs() if query else ():
                if ref not in self._names:
                    raise WatchlistError(f'cluster "{name}" query: unknown cluster @{ref}')
                visit(self._names[ref], (*path, name))
            state[number] = "done"
            order.append(number)

        for number in range(len(self._rules)):
            visit(number, ())
        return order

    # ---- matching --------------------------------------------------------------------

    def match(self, text: str, title: str = "") -> list[ClusterMatch]:
        """The clusters that count for this article, in config order."""
        normalised = normalise(text)
        if title:
            normalised = f"{normalise(title)} {_BARRIER} {normalised}"
        decisions, _ = self._decide(self._index.find(normalised))
        return [
            ClusterMatch(
                self._rules[number].name,
                tuple(dict.fromkeys(entry.term for _, entry in decision.counted)),
                len(decision.counted),
            )
            for number, decision in sorted(decisions.items())
            if decision.matched
        ]

    def query_matches(self, query: Query | str, text: str, title: str = "") -> bool:
        """Whether an ad-hoc query (``search``) holds, with ``@Name`` from this watch-list."""
        query = Query.parse(query) if isinstance(query, str) else query
        normalised = normalise(text)
        if title:
            normalised = f"{normalise(title)} {_BARRIER} {normalised}"
        decisions, _ = self._decide(self._index.find(normalised))
        return query.matches_normalised(normalised, self._cluster_lookup(decisions))

    def explain(self, text: str, title: str = "") -> list[ClusterVerdict]:
        """Every cluster the article touched (any hit), matched or not, with the reason."""
        parts = [("title", normalise_with_spans(title))] if title else []
        parts.append(("text", normalise_with_spans(text)))
        normalised = f" {_BARRIER} ".join(part.text for _, part in parts)
        hits = self._index.find(normalised)
        decisions, per_cluster = self._decide(hits)
        locate = _locator(parts)
        nested = nested_in(h for h in hits if h.term_id in self._term_ids)
        verdicts = []
        for number, cluster in enumerate(self._rules):
            pairs = per_cluster.get(number, [])
            if not pairs:
                continue
            decision = decisions[number]
            term_hits = []
            for hit, entry in sorted(pairs, key=lambda pair: (pair[0].start, pair[1].role)):
                where, span, excerpt = locate(hit)
                container = nested.get(hit) if entry.role == "term" else None
                term_hits.append(
                    TermHit(
                        term=entry.term,
                        role=entry.role,
                        words=(hit.start, hit.end),
                        field=where,
                        span=span,
                        excerpt=excerpt,
                        nested_in=self._term_name(container) if container else None,
                    )
                )
            verdicts.append(
                ClusterVerdict(
                    cluster.name,
                    decision.matched,
                    decision.status,
                    decision.reason,
                    tuple(term_hits),
                )
            )
        return verdicts

    def _term_name(self, hit: Hit) -> str:
        entries = self._entries[hit.term_id]
        return next((e.term for e in entries if e.role == "term"), entries[0].term)

    def _decide(
        self, hits: list[Hit]
    ) -> tuple[dict[int, _Decision], dict[int, list[tuple[Hit, _Entry]]]]:
        """Each touched cluster's decision, and each cluster's hits."""
        per_cluster: dict[int, list[tuple[Hit, _Entry]]] = {}
        for hit in hits:
            for entry in self._entries[hit.term_id]:
                per_cluster.setdefault(entry.cluster, []).append((hit, entry))
        nested = nested_in(h for h in hits if h.term_id in self._term_ids) if hits else {}
        decisions: dict[int, _Decision] = {}
        lookup = self._cluster_lookup(decisions)
        for number in self._order:
            pairs = per_cluster.get(number)
            query = self._queries[number]
            if pairs is None and not (query and query.cluster_refs()):
                continue
            decisions[number] = self._decide_cluster(number, pairs or [], nested, lookup)
        return decisions, per_cluster

    def _cluster_lookup(self, decisions: dict[int, _Decision]) -> Callable[[str], Outcome]:
        def lookup(name: str) -> Outcome:
            decision = decisions.get(self._names[name])
            return (True, decision.spans) if decision and decision.matched else (False, ())

        return lookup

    def _decide_cluster(
        self,
        number: int,
        pairs: list[tuple[Hit, _Entry]],
        nested: dict[Hit, Hit],
        lookup: Callable[[str], Outcome],
    ) -> _Decision:
        rule = self._rules[number]
        by_role: dict[str, list[tuple[Hit, _Entry]]] = {}
        for pair in pairs:
            by_role.setdefault(pair[1].role, []).append(pair)
        terms = _one_per_span(p for p in by_role.get("term", []) if p[0] not in nested)
        excluded = by_role.get("exclude")
        status: Status
        if terms and rule.context:
            context = [(h.start, h.end) for h, _ in by_role.get("context", [])]
            if rule.near is not None:
                near = rule.near
                terms = [
                    p for p in terms if any(gap((p[0].start, p[0].end), c) <= near for c in context)
                ]
            elif not context:
                terms = []
            if not terms:
                within = f" within {rule.near} words" if rule.near else ""
                status, reason = "no context", f"no context term{within}"
        elif not terms and by_role.get("term"):
            inner = by_role["term"][0][0]
            status = "nested"
            reason = f"term only inside the longer term {self._term_name(nested[inner])!r}"
        else:
            status, reason = "no term", "no term found"
        spans: Sequence[Span] = [(h.start, h.end) for h, _ in terms]
        query = self._queries[number]
        if not terms and query is not None:
            spans_by_term: dict[str, list[Span]] = {}
            for hit, entry in by_role.get("query", []):
                spans_by_term.setdefault(entry.term, []).append((hit.start, hit.end))
            holds, spans = query.evaluate(lambda t: spans_by_term.get(t, ()), lookup)
            if holds:
                status, reason = "matched", "query holds"
                terms = [p for p in by_role.get("query", []) if (p[0].start, p[0].end) in spans]
            elif status == "no term":
                status, reason = "query false", "no term found and the query does not hold"
        elif terms:
            status, reason = "matched", f"{len(terms)} term hit(s)"
        if status == "matched" and excluded:
            status, reason = "excluded", f"excluded by {excluded[0][1].term!r}"
            spans = ()
        return _Decision(status, reason, tuple(terms) if status == "matched" else (), spans)


def _one_per_span(pairs: Iterable[tuple[Hit, _Entry]]) -> list[tuple[Hit, _Entry]]:
    """One hit per position: two spellings of a cluster finding the same words count once."""
    unique: dict[Span, tuple[Hit, _Entry]] = {}
    for pair in sorted(pairs, key=lambda p: p[0]):
        unique.setdefault((pair[0].start, pair[0].end), pair)
    return list(unique.values())


def _locator(
    parts: list[tuple[str, Normalised]],
) -> Callable[[Hit], tuple[Literal["title", "text"], tuple[int, int], str]]:
    """Map combined normalised word positions back to a field, a span and an excerpt."""
    offsets = []
    start = 0
    for name, part in parts:
        offsets.append((start, name, part))
        start += len(part.spans) + 1  # the barrier word

    def locate(hit: Hit) -> tuple[Literal["title", "text"], tuple[int, int], str]:
        for first, name, part in reversed(offsets):
            if hit.start >= first:
                span = part.span(hit.start - first, hit.end - first)
                return name, span, part.original[span[0] : span[1]]  # type: ignore[return-value]
        raise AssertionError("hit outside the article")  # pragma: no cover

    return locate
