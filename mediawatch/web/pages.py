"""The desk's pages, server-rendered: overview, clusters, search, alerts, sources, watch-list."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
