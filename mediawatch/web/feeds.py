"""Atom feeds for readers: a cluster's new stories, a saved search, the alerts."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/feeds", include_in_schema=False)
