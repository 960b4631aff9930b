"""Each ``--format``'s choices, and rows as a table on a terminal or TSV, CSV or JSON for pipes.

CSV and TSV go through ``reports.render.delimited`` (scraped text never becomes a
spreadsheet formula); JSON keeps every value as it is."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from reports.render.delimited import write_csv, write_tsv

# Each set of ``--format`` values is declared once, as an enum: typer turns it into a
# choice, so an unknown format is a usage error (exit 2) that names the choices.


class RowFormat(StrEnum):
    """The formats of the commands that print rows (``print_rows``)."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    TSV = "tsv"


class TableOrJson(StrEnum):
    """``detect`` and ``rematch``."""

    TABLE = "table"
    JSON = "json"


class TextOrJson(StrEnum):
    """``match``."""

    TEXT = "text"
    JSON = "json"


class SearchFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


class ReportFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    HTML = "html"
    PNG = "png"


class ExportFormat(StrEnum):
    JSONL = "jsonl"


RowFormatOption = Annotated[
    RowFormat | None, typer.Option("--format", help="table (default), json, csv or tsv")
]
"""The ``--format`` option of every command that prints rows (default: table)."""


def is_tty() -> bool:
    return sys.stdout.isatty()


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def print_rows(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: RowFormat | None, title: str = ""
) -> None:
    """``table`` (the default) is a rich table on a terminal and tab-separated text in a pipe."""
    if fmt == RowFormat.JSON:
        json.dump(
            [{c: _jsonable(row.get(c)) for c in columns} for row in rows],
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        sys.stdout.write("\n")
    elif fmt == RowFormat.CSV:
        write_csv(sys.stdout, columns, [[_delimited(row.get(c)) for c in columns] for row in rows])
    elif fmt == RowFormat.TSV or not is_tty():
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
