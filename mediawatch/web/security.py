"""Who may use the desk, and the headers every answer carries (CSP, no framing, no sniffing)."""

from __future__ import annotations

from fastapi import FastAPI

from mediawatch.web.desk import Desk


def secure(app: FastAPI, desk: Desk) -> None:
    """Install the desk's access rules on ``app``."""
