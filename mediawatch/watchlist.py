"""Placeholder until the watch-list matcher lands (issue 3)."""

from __future__ import annotations

from typing import Any


def check_cluster(cluster: Any) -> None:
    """Raise ValueError naming the problem when a cluster cannot be used."""
    for term in (*cluster.terms, *cluster.context, *cluster.exclude):
        if not term.strip():
            raise ValueError("empty term")
