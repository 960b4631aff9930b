"""``[backfill]``: where the GDELT DOC 2.0 article list is asked, and how politely GDELT,
Telegram and sitemaps are asked."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import field_validator

from config.base import Model, Pause


class BackfillConfig(Model):
    gdelt_url: str = "https://api.gdeltproject.org/api/v2/doc/doc"
    """The DOC 2.0 API's address (tests point it at a local server)."""
    gdelt_interval: Pause = timedelta(seconds=5)
    """Spacing of GDELT requests: GDELT documents one request per 5 seconds."""
    page_interval: Pause = timedelta(seconds=2)
    """Spacing of a walk's own requests per host (a Telegram channel's older pages, a
    site's sitemaps), one at a time; article pages keep the crawl's politeness."""

    @field_validator("gdelt_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value
