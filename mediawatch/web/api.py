"""``/api/v1``: the archive as JSON, in the shapes of the CLI's ``--format json``."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["api"])
