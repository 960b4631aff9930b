"""The desk's pages, server-rendered: overview, clusters, search, alerts, sources, watch-list.

Each page lives in its own ``pages_*`` module; this router gathers them for ``app``."""

from __future__ import annotations

from fastapi import APIRouter

from mediawatch.web import (
    pages_alerts,
    pages_cluster,
    pages_overview,
    pages_search,
    pages_sources,
    pages_watchlist,
)

router = APIRouter(include_in_schema=False)
for _page in (
    pages_overview,
    pages_cluster,
    pages_search,
    pages_alerts,
    pages_sources,
    pages_watchlist,
):
    router.include_router(_page.router)
