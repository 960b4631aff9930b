"""``init`` and ``export``: the archive itself."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from clock.periods import parse_moment
from mediawatch.cli.app import app, state
from mediawatch.cli.output import ExportFormat


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the database or upgrade it to the current schema; safe to repeat.

    Also brings the sources table in line with config.toml.

    Example: mediawatch --config config.toml init
    """
    from clock.moments import utcnow
    from storage.engine import session_factory, transaction
    from storage.migrate import upgrade
    from storage.queries import sync_sources

    app_state = state(ctx)
    config = app_state.config
    engine = app_state.engine(require_current=False)
    revision = upgrade(engine)
    with transaction(session_factory(engine)) as session:
        result = sync_sources(session, config.sources, utcnow(), config.crawl.min_interval * 3)
    engine.dispose()
    typer.echo(
        f"database {engine.url.render_as_string()} at revision {revision}; "
        f"{len(config.sources)} sources ({len(result.added)} added, {len(result.updated)} "
        f"changed, {len(result.disabled)} disabled), {len(config.clusters)} clusters"
    )


@app.command()
def export(
    ctx: typer.Context,
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="jsonl (one JSON object per line)")
    ] = ExportFormat.JSONL,
    since: Annotated[
        str | None, typer.Option(help="7d, 24h or a date: only articles since")
    ] = None,
    until: Annotated[str | None, typer.Option(help="only articles before this time")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file (default stdout)")
    ] = None,
) -> None:
    """Export stored articles, one JSON object per line.

    Fields: url, title, source, published_at, fetched_at, language, text, clusters,
    duplicate_of (the URL of the story's first copy, or null).

    Example: mediawatch export --format jsonl --since 7d > week.jsonl
    """
    from clock.moments import utcnow
    from storage.engine import session_factory
    from storage.queries import article_clusters, iter_articles

    now = utcnow()
    start = parse_moment(since, now) if since else None
    end = parse_moment(until, now) if until else None
    engine = state(ctx).engine()
    stream = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        with session_factory(engine)() as session:
            for article in iter_articles(session, since=start, until=end):
                record = {
                    "url": article.url,
                    "title": article.title,
                    "source": article.publisher,
                    "published_at": _iso(article.published_at),
                    "fetched_at": _iso(article.fetched_at),
                    "language": article.language,
                    "text": article.text if article.text is not None else article.summary,
                    "clusters": article_clusters(article),
                    "duplicate_of": article.duplicate_of.url if article.duplicate_of else None,
                    "views": article.views,
                }
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        if output:
            stream.close()
        engine.dispose()


def _iso(moment: object) -> str | None:
    from datetime import datetime

    if isinstance(moment, datetime):
        return moment.isoformat(timespec="seconds") + "Z"
    return None
