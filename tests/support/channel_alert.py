"""The alert the channel tests send: every field set, and one hostile headline."""

from __future__ import annotations

from datetime import datetime

from alerts.message import Alert, Headline

ALERT = Alert(
    kind="open",
    cluster="Interior Ministry",
    bucket_start=datetime(2026, 11, 20, 9, 0),
    bucket_end=datetime(2026, 11, 20, 10, 0),
    observed=23,
    expected=2.1,
    tail_probability=2e-5,
    sources=9,
    languages=("en", "ar"),
    headlines=(
        Headline("PMF pushes for the ministry", "https://rudaw.example/1", "Rudaw"),
        Headline("<script>alert(1)</script>", "javascript:alert(1)", "Evil"),
    ),
    episode_id=7,
    trend_command="mediawatch report --by hour --cluster 'Interior Ministry'",
)
