"""The shipped config.toml's sources: all four kinds, sound Telegram previews, unique names."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from config.load import load_config
from config.models import SourceConfig

ROOT = Path(__file__).resolve().parents[1]

TELEGRAM_PREVIEW = re.compile(r"^https://t\.me/s/[A-Za-z][A-Za-z0-9_]{3,31}$")
"""A public channel's web preview: t.me/s/ and a Telegram username (5-32 characters)."""


@pytest.fixture(scope="module")
def sources() -> tuple[SourceConfig, ...]:
    return load_config(ROOT / "config.toml", environ={}).sources


def test_ships_telegram_channels_and_feedless_sites(sources: tuple[SourceConfig, ...]) -> None:
    kinds = Counter(source.kind for source in sources)
    assert kinds["telegram"] >= 1
    assert kinds["html"] >= 1


def test_every_telegram_source_is_a_public_preview(sources: tuple[SourceConfig, ...]) -> None:
    telegram = [source for source in sources if source.kind == "telegram"]
    malformed = [s.url for s in telegram if not TELEGRAM_PREVIEW.match(s.url)]
    assert malformed == []
    assert all(source.language for source in telegram), "a channel's posts declare no language"


def test_no_two_sources_share_a_name_or_a_url(sources: tuple[SourceConfig, ...]) -> None:
    names = Counter(source.name for source in sources)
    urls = Counter(source.url.rstrip("/").lower() for source in sources)
    assert [name for name, count in names.items() if count > 1] == []
    assert [url for url, count in urls.items() if count > 1] == []
