"""Tables for people on a terminal, plain text or JSON for pipes.

CSV and TSV go through ``reports.render.delimited`` (scraped text never becomes a
spreadsheet formula); JSON keeps every value as it is."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

from reports.render.delimited import write_csv, write_tsv

Format = Literal["table", "json", "csv", "tsv"]


def is_tty() -> bool:
    return sys.stdout.isatty()


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def print_rows(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: Format | None, title: str = ""
) -> None:
    """``table`` is a rich table on a terminal and tab-separated text in a pipe."""
    fmt = fmt or "table"
    if fmt == "json":
        json.dump(
            [{c: _jsonable(row.get(c)) for c in columns} for row in rows],
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        sys.stdout.write("\n")
    elif fmt == "csv":
        write_csv(sys.stdout, columns, [[_delimited(row.get(c)) for c in columns] for row in rows])
    elif fmt == "tsv" or not is_tty():
        write_tsv(sys.stdout, columns, [[_delimited(row.get(c)) for c in columns] for row in rows])
    else:
        table = Table(title=title or None)
        for column in columns:
            table.add_column(column.replace("_", " "))
        for row in rows:
            table.add_row(*(cell(row.get(c)) for c in columns))
        Console().print(table)


def _delimited(value: Any) -> Any:
    """A value for CSV/TSV: numbers stay numbers (never mistaken for text formulas)."""
    if isinstance(value, int | float):
        return value
    return cell(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value
