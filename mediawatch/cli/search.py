"""``search``: the archive, with the watch-list query language."""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from clock.moments import utcnow
from clock.periods import parse_moment
from mediawatch.cli.app import app, state
from mediawatch.cli.output import SearchFormat
from reports.render.delimited import write_csv

if TYPE_CHECKING:
    from archive.search import SearchResult

logger = logging.getLogger(__name__)

COLUMNS = ("seen_at", "publisher", "source", "language", "title", "url", "snippet")


@app.command("search")
def search(
    ctx: typer.Context,
    query: Annotated[
        str, typer.Argument(help='A query: "a phrase" AND/OR/NOT word NEAR/5 @Cluster')
    ],
    since: Annotated[
        str | None, typer.Option(help="Only articles seen since (30d or a date)")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only articles seen before (duration or date)")
    ] = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Source name or publisher (repeatable)")
    ] = None,
    language: Annotated[
        list[str] | None, typer.Option("--language", help="Language code, e.g. ar (repeatable)")
    ] = None,
    cluster: Annotated[
        list[str] | None, typer.Option("--cluster", help="The article counts for it (repeatable)")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many results", min=1)] = 20,
    fmt: Annotated[
        SearchFormat, typer.Option("--format", help="table, json or csv")
    ] = SearchFormat.TABLE,
) -> None:
    """Full-text search of the archive, newest first, with the match highlighted.

    The query language is the watch-list's: "quoted phrases", AND, OR, NOT (or -word),
    NEAR/n, parentheses and @Cluster; words match after normalisation, so Arabic
    prefixes and spelling variants are found (الحشد finds والحشد). The database's
    full-text index narrows the candidates; the watch-list matcher decides. JSON gives
    each result's snippet with «» around the matches and their offsets.

    Example: mediawatch search '"Interior Ministry" AND (Hashd OR PMF)' --since 30d
    """
    from archive.search import SearchFilters, cluster_rules
    from archive.search import search as run_search
    from archive.search_index import sync_search_index
    from archive.search_rows import hit_row
    from storage.engine import session_factory

    config = state(ctx).config
    now = utcnow()
    filters = SearchFilters(
        since=parse_moment(since, now) if since else None,
        until=parse_moment(until, now) if until else None,
        sources=tuple(source or ()),
        languages=tuple(language or ()),
        clusters=tuple(cluster or ()),
        limit=limit,
    )
    watchlist = config.watchlist()
    engine = state(ctx).engine()
    try:
        factory = session_factory(engine)
        sync_search_index(factory)
        with factory() as session:
            result = run_search(session, query, watchlist, cluster_rules(config.clusters), filters)
    finally:
        engine.dispose()
    if not result.complete:
        print(
            f"note: the query has no positive term to look up; only the newest "
            f"{result.candidates:,} articles were checked",
            file=sys.stderr,
        )
    if fmt is SearchFormat.JSON:
        json.dump([hit_row(hit) for hit in result.hits], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    elif fmt is SearchFormat.CSV:
        rows = [hit_row(hit) for hit in result.hits]
        write_csv(sys.stdout, COLUMNS, [[row[c] for c in COLUMNS] for row in rows])
    else:
        _print_table(result)


def _print_table(result: SearchResult) -> None:
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    if not result.hits:
        console.print(f"no article matches {result.query!r}", markup=False)
        return
    for hit in result.hits:
        header = Text(f"{hit.seen_at:%Y-%m-%d %H:%M}  ", style="dim")
        header.append(hit.publisher)
        if hit.language:
            header.append(f"  [{hit.language}]", style="dim")
        title = Text(hit.title or "(no title)")
        for start, end in hit.title_marks:
            title.stylize("bold", start, end)
        snippet = Text(hit.snippet.text)
        for start, end in hit.snippet.marks:
            snippet.stylize("bold", start, end)
        console.print(header)
        console.print(Text("  ") + title)
        console.print(Text("  ") + snippet)
        console.print(Text(f"  {hit.url}", style="dim"))
        console.print()
    shown = f"{len(result.hits)} result(s)"
    console.print(
        Text(
            f"{shown}, {result.checked:,} of {result.candidates:,} candidates checked", style="dim"
        )
    )
