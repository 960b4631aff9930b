"""Archive search with the watch-list query language.

1. The query is parsed (``QuerySyntaxError`` with a position on bad input); each
   ``--cluster`` filter is ANDed as ``@Name``.
2. ``archive.fts.prefilter`` derives a full-text expression from the query's positive
   terms; the database index (FTS5 on SQLite, GIN tsvector on PostgreSQL) returns the
   candidate ids, filtered by period, source and language, newest first. User text only
   ever reaches SQL as bound parameters.
3. The watch-list matcher decides on each candidate (``Watchlist.query_matches``), in
   that order, until ``limit`` results: the same decision a brute-force scan makes.

A query with no usable positive term (``NOT France``) cannot use the index: the newest
``scan_limit`` articles passing the filters are checked instead, and the result says so.
The index must be current: call ``search_index.sync_search_index`` first.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Integer, Select, func, literal_column, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import column

from archive.fts import ClusterRule, Prefilter, fts5_match, prefilter, tsquery
from archive.search_index import article_search
from archive.snippets import Snippet, make_snippet, term_spans
from errors import WatchlistError
from storage.models import Article, Source
from watchlist.matcher import Watchlist
from watchlist.mentions import matchable_text
from watchlist.normalise import normalise
from watchlist.query import And, ClusterRef, Query

logger = logging.getLogger(__name__)

SCAN_LIMIT = 20_000
BATCH = 200


@dataclass(frozen=True)
class SearchFilters:
    since: datetime | None = None
    until: datetime | None = None
    sources: tuple[str, ...] = ()
    """Configured source names or publishers."""
    languages: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    """Each must count for the article (as ``AND @Name`` would)."""
    limit: int = 50


@dataclass(frozen=True)
class SearchHit:
    id: int
    url: str
    title: str
    publisher: str
    source: str | None
    language: str | None
    seen_at: datetime
    snippet: Snippet
    title_marks: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: tuple[SearchHit, ...]
    strategy: Literal["index", "scan"]
    candidates: int
    """Articles the index (or the scan) proposed."""
    checked: int
    """Candidates the matcher looked at before ``limit`` results were found."""
    complete: bool
    """False when a scan stopped at ``scan_limit`` with older articles unchecked."""


def compile_query(source: str, clusters: Sequence[str], watchlist: Watchlist) -> Query:
    """Parse ``source``, AND the cluster filters, and check every ``@Name`` exists."""
    query = Query.parse(source)
    root = query.root
    for name in clusters:
        root = And((root, ClusterRef(name, len(source))))
    full = Query(source, root)
    known = set(watchlist.names)
    for name in full.cluster_refs():
        if name not in known:
            raise WatchlistError(
                f"unknown cluster @{name}; the watch-list has: {', '.join(sorted(known))}"
            )
    return full


def cluster_rules(clusters: Sequence[Any]) -> dict[str, ClusterRule]:
    """``ClusterRule`` per configured cluster (anything with name, terms and query)."""
    return {c.name: ClusterRule(tuple(c.terms), c.query) for c in clusters}


def search(
    session: Session,
    source: str,
    watchlist: Watchlist,
    rules: Mapping[str, ClusterRule],
    filters: SearchFilters = SearchFilters(),
    *,
    scan_limit: int = SCAN_LIMIT,
) -> SearchResult:
    """Newest-first articles matching ``source`` (see the module docstring)."""
    query = compile_query(source, filters.clusters, watchlist)
    expr = prefilter(query, rules)
    base = _filtered(select(Article.id), filters)
    if expr is not None:
        strategy: Literal["index", "scan"] = "index"
        statement = base.where(Article.id.in_(_index_ids(session, expr)))
    else:
        strategy = "scan"
        statement = base.limit(scan_limit)
        logger.info("query %r has no positive term: scanning up to %d articles", source, scan_limit)
    ids = list(session.scalars(statement.order_by(Article.seen_at.desc(), Article.id.desc())))
    marks = _mark_terms(Query.parse(source), rules)
    hits: list[SearchHit] = []
    checked = 0
    for row in _articles(session, ids):
        checked += 1
        text_ = matchable_text(row.text, row.summary)
        if watchlist.query_matches(query, text_, row.title or ""):
            hits.append(_hit(row, text_, marks))
            if len(hits) >= filters.limit:
                break
    complete = strategy == "index" or len(ids) < scan_limit or len(hits) >= filters.limit
    return SearchResult(source, tuple(hits), strategy, len(ids), checked, complete)


def _filtered(statement: Select[Any], filters: SearchFilters) -> Select[Any]:
    if filters.since is not None:
        statement = statement.where(Article.seen_at >= filters.since)
    if filters.until is not None:
        statement = statement.where(Article.seen_at < filters.until)
    if filters.languages:
        statement = statement.where(Article.language.in_(filters.languages))
    if filters.sources:
        by_name = select(Source.id).where(Source.name.in_(filters.sources))
        statement = statement.where(
            or_(Article.source_id.in_(by_name), Article.publisher.in_(filters.sources))
        )
    return statement


def _index_ids(session: Session, expr: Prefilter) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        counter = itertools.count()
        condition = func.to_tsvector(
            literal_column("'simple'::regconfig"), article_search.c.body
        ).op("@@")(tsquery(expr, lambda: f"fts_{next(counter)}"))
        return select(article_search.c.article_id).where(condition)
    return (
        text("SELECT rowid FROM article_fts WHERE article_fts MATCH :fts_match")
        .bindparams(fts_match=fts5_match(expr))
        .columns(column("rowid", Integer))
    )


def _articles(session: Session, ids: Sequence[int]) -> Iterator[Any]:
    """Rows for ``ids``, in the order given, loaded ``BATCH`` at a time."""
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        rows = session.execute(
            select(
                Article.id,
                Article.url,
                Article.title,
                Article.text,
                Article.summary,
                Article.publisher,
                Article.language,
                Article.seen_at,
                Source.name.label("source"),
            )
            .outerjoin(Source, Source.id == Article.source_id)
            .where(Article.id.in_(chunk))
        ).all()
        by_id = {row.id: row for row in rows}
        yield from (by_id[i] for i in chunk if i in by_id)


def _mark_terms(query: Query, rules: Mapping[str, ClusterRule]) -> tuple[str, ...]:
    """Normalised terms to highlight: the query's positive terms, then its clusters' terms."""
    terms = [normalise(term) for term in query.positive_terms()]
    for name in query.cluster_refs():
        terms.extend(normalise(term) for term in rules.get(name, ClusterRule(())).terms)
    return tuple(dict.fromkeys(t for t in terms if t))


def _hit(row: Any, text_: str, marks: Sequence[str]) -> SearchHit:
    title = row.title or ""
    text_spans = term_spans(text_, marks)
    title_spans = term_spans(title, marks)
    if text_spans or not title_spans:
        snippet = make_snippet(text_, text_spans)
    else:
        snippet = make_snippet(title, title_spans, field="title")
    return SearchHit(
        id=row.id,
        url=row.url,
        title=title,
        publisher=row.publisher,
        source=row.source,
        language=row.language,
        seen_at=row.seen_at,
        snippet=snippet,
        title_marks=tuple(title_spans),
    )
