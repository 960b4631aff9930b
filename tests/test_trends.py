"""Trend queries: stories (not copies), articles, sources and share per cluster per
bucket, zeros filled; breakdowns; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from support.report_archive import Archive, make_archive

from reports.breakdowns import co_occurrence, episodes, languages, top_sources
from reports.buckets import bucket_grid, bucket_start
from reports.trends import Period, cluster_trends
from storage.engine import session_factory, transaction
from storage.models import AlertEpisode

DAY1 = datetime(2026, 3, 4, 9, 30)  # a Wednesday


@pytest.fixture
def archive(migrated_engine: Engine) -> Archive:
    archive = make_archive(migrated_engine)
    first = archive.add("PMF moves", "The PMF moved north.", DAY1, publisher="a.example")
    archive.add("PMF moves", "The PMF moved north.", DAY1 + timedelta(hours=2),
                publisher="b.example", copy_of=first)  # fmt: skip
    archive.add("PMF and Hezbollah", "PMF and Hezbollah met.", DAY1 + timedelta(hours=3),
                publisher="a.example", language="ar")  # fmt: skip
    archive.add("Weather", "Sunny.", DAY1 + timedelta(hours=4))
    archive.add("Football", "A match.", DAY1 + timedelta(hours=5))
    archive.add("PMF moves", "The PMF moved north.", DAY1 + timedelta(days=2),
                publisher="c.example", copy_of=first)  # fmt: skip
    return archive


def rows_of(engine: Engine, period: Period, clusters: list[str]) -> dict[tuple[str, str], tuple]:
    with session_factory(engine)() as session:
        rows = cluster_trends(session, period, clusters)
    return {
        (r.cluster, r.bucket.isoformat()): (r.articles, r.stories, r.sources, round(r.share, 3))
        for r in rows
    }


def test_daily_stories_articles_sources_share(archive: Archive) -> None:
    since = datetime(2026, 3, 4)
    rows = rows_of(archive.engine, Period(since, since + timedelta(days=3), "day"), ["PMF"])
    assert rows == {
        ("PMF", "2026-03-04T00:00:00"): (3, 2, 2, 0.5),  # 2 of the day's 4 stories
        ("PMF", "2026-03-05T00:00:00"): (0, 0, 0, 0.0),
        ("PMF", "2026-03-06T00:00:00"): (1, 1, 1, 1.0),  # a late copy of the story
    }


def test_hourly_buckets_are_filled_with_zeros(archive: Archive) -> None:
    since = datetime(2026, 3, 4, 8, 0)
    rows = rows_of(
        archive.engine, Period(since, since + timedelta(hours=6), "hour"), ["PMF", "Hezbollah"]
    )
    assert len(rows) == 12
    assert rows[("PMF", "2026-03-04T09:00:00")] == (1, 1, 1, 1.0)
    assert rows[("PMF", "2026-03-04T12:00:00")] == (1, 1, 1, 1.0)
    assert rows[("Hezbollah", "2026-03-04T12:00:00")] == (1, 1, 1, 1.0)
    assert rows[("Hezbollah", "2026-03-04T08:00:00")] == (0, 0, 0, 0.0)


def test_weekly_buckets_start_on_monday(archive: Archive) -> None:
    since = datetime(2026, 3, 4)
    rows = rows_of(archive.engine, Period(since, since + timedelta(days=10), "week"), ["PMF"])
    assert rows == {
        ("PMF", "2026-03-02T00:00:00"): (4, 2, 3, 0.5),
        ("PMF", "2026-03-09T00:00:00"): (0, 0, 0, 0.0),
    }


def test_bucket_grid() -> None:
    assert bucket_start(datetime(2026, 3, 8, 23, 59), "week") == datetime(2026, 3, 2)
    grid = bucket_grid(datetime(2026, 3, 4, 10, 30), datetime(2026, 3, 4, 13), "hour")
    assert grid == [datetime(2026, 3, 4, h) for h in (10, 11, 12)]


def test_breakdowns(archive: Archive) -> None:
    period = Period(datetime(2026, 3, 1), datetime(2026, 3, 10), "day")
    with session_factory(archive.engine)() as session:
        sources = top_sources(session, period, ["PMF", "Hezbollah"])
        langs = languages(session, period, ["PMF"])
        pairs = co_occurrence(session, period, ["PMF", "Hezbollah", "Khazali"])
    assert [(s.publisher, s.articles, s.stories) for s in sources["PMF"]] == [
        ("a.example", 2, 2), ("b.example", 1, 1), ("c.example", 1, 1),
    ]  # fmt: skip
    assert sources["Hezbollah"][0].publisher == "a.example"
    assert [(x.language, x.articles) for x in langs["PMF"]] == [("en", 3), ("ar", 1)]
    assert [(p.first, p.second, p.stories) for p in pairs] == [("Hezbollah", "PMF", 1)]


def test_episode_headlines_one_per_story(archive: Archive) -> None:
    with transaction(session_factory(archive.engine)) as session:
        session.add(
            AlertEpisode(
                cluster="PMF", status="closed", onset_bucket=datetime(2026, 3, 4, 9),
                opened_at=datetime(2026, 3, 4, 10), closed_at=datetime(2026, 3, 4, 15),
                last_bucket=datetime(2026, 3, 4, 12), observed=2, expected=0.4,
                tail_probability=1e-4, peak_count=2, sources=2, updates=0, quiet_buckets=3,
            )
        )  # fmt: skip
    period = Period(datetime(2026, 3, 1), datetime(2026, 3, 10), "day")
    with session_factory(archive.engine)() as session:
        (episode,) = episodes(session, period, ["PMF", "Hezbollah"], timedelta(hours=1))
    assert [(h.title, h.copies, h.publishers) for h in episode.headlines] == [
        ("PMF moves", 2, ("a.example", "b.example")),
        ("PMF and Hezbollah", 1, ("a.example",)),
    ]
