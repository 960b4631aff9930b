"""The report as rows: JSON (the contract ``{"cluster", "bucket", "articles",
"stories", "sources"}`` plus ``share``) and CSV with the same columns."""

from __future__ import annotations

import csv
import io
import json

from reports.report import TrendReport

COLUMNS = ("cluster", "bucket", "articles", "stories", "sources", "share")


def to_json(report: TrendReport) -> str:
    return json.dumps([row.as_dict() for row in report.rows], ensure_ascii=False, indent=2) + "\n"


def to_csv(report: TrendReport) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in report.rows:
        writer.writerow(row.as_dict())
    return buffer.getvalue()
