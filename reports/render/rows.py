"""The report as rows: JSON (the contract ``{"cluster", "bucket", "articles",
"stories", "sources"}`` plus ``share``) and CSV with the same columns (text cells made
spreadsheet-safe by ``reports.render.delimited``)."""

from __future__ import annotations

import io
import json

from reports.render.delimited import write_csv
from reports.report import TrendReport

COLUMNS = ("cluster", "bucket", "articles", "stories", "sources", "share")


def to_json(report: TrendReport) -> str:
    return json.dumps([row.as_dict() for row in report.rows], ensure_ascii=False, indent=2) + "\n"


def to_csv(report: TrendReport) -> str:
    buffer = io.StringIO()
    rows = (row.as_dict() for row in report.rows)
    write_csv(buffer, COLUMNS, ([values[c] for c in COLUMNS] for values in rows))
    return buffer.getvalue()
