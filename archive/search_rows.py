"""A search hit as the JSON row of ``search --format json`` and ``/api/v1/search``: the
snippet with «» around the matches, and the matches' offsets."""

from __future__ import annotations

from archive.search import SearchHit


def hit_row(hit: SearchHit) -> dict[str, object]:
    return {
        "id": hit.id,
        "seen_at": hit.seen_at.isoformat(),
        "publisher": hit.publisher,
        "source": hit.source,
        "language": hit.language,
        "title": hit.title,
        "url": hit.url,
        "snippet": hit.snippet.marked(),
        "snippet_field": hit.snippet.field,
        "highlights": [list(mark) for mark in hit.snippet.marks],
    }
