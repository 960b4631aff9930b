"""Time buckets of a report: hour, day or ISO week (Monday), in naive UTC.

``bucket_start`` truncates in Python; ``bucket_sql`` truncates in SQL the same way
(SQLite: string slices of SQLAlchemy's ``YYYY-MM-DD HH:MM:SS`` storage and ``date()``;
PostgreSQL: ``date_trunc``), so grouped rows land on the grid ``bucket_grid`` makes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import func, literal_column

Granularity = Literal["hour", "day", "week"]
GRANULARITIES: tuple[str, ...] = get_args(Granularity)
WIDTH = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


def bucket_start(moment: datetime, by: Granularity) -> datetime:
    """The start of the bucket holding ``moment``."""
    if by == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if by == "day":
        return day
    return day - timedelta(days=day.weekday())


def bucket_grid(since: datetime, until: datetime, by: Granularity) -> list[datetime]:
    """Every bucket start from the bucket of ``since`` up to (excluding) ``until``."""
    grid = []
    moment = bucket_start(since, by)
    while moment < until:
        grid.append(moment)
        moment += WIDTH[by]
    return grid


def bucket_sql(column: Any, by: Granularity, dialect: str) -> Any:
    """SQL truncating ``column`` to its bucket; read the value back with ``bucket_value``."""
    if by not in GRANULARITIES:
        raise ValueError(f"unknown bucket {by!r}")
    if dialect == "postgresql":
        return func.date_trunc(literal_column(f"'{by}'"), column)
    if by == "hour":
        return func.substr(column, 1, 13)
    if by == "day":
        return func.substr(column, 1, 10)
    return func.date(column, literal_column("'-6 days'"), literal_column("'weekday 1'"))


def bucket_value(value: Any) -> datetime:
    """A bucket as the database returned it (datetime, or SQLite's text) -> datetime."""
    if isinstance(value, datetime):
        return value
    text = str(value)
    if len(text) == 13:  # "YYYY-MM-DD HH"
        text += ":00"
    return datetime.fromisoformat(text)
