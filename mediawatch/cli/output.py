"""Tables for people on a terminal, plain text or JSON for pipes."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

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
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows([[cell(row.get(c)) for c in columns] for row in rows])
    elif fmt == "tsv" or not is_tty():
        print("\t".join(columns))
        for row in rows:
            print("\t".join(cell(row.get(c)).replace("\t", " ") for c in columns))
    else:
        table = Table(title=title or None)
        for column in columns:
            table.add_column(column.replace("_", " "))
        for row in rows:
            table.add_row(*(cell(row.get(c)) for c in columns))
        Console().print(table)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value
