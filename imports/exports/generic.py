"""The export writers that work on any database: CSV (csv.writer) and .xlsx (`imports.xlsx`),
from the rows `imports.exports` reads in batches. Cells a spreadsheet would run as a formula are
neutralised as `audience.spreadsheets` defines."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from typing import Any

from audience.spreadsheets import FORMULA_CHARS, cell_safe
from imports import xlsx


def csv_cell(value: Any) -> Any:
    """`cell_safe` of the value as text (dates ISO 8601, None empty), its common case inlined: this runs for every cell of an export."""
    kind = type(value)
    if kind is str:
        return cell_safe(value) if value and (value[0] in FORMULA_CHARS or value[0] == "'") else value
    if kind is int or kind is float or kind is bool:
        return value
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if kind is list or kind is dict:  # a JSON attribute, as PostgreSQL writes it
        return cell_safe(json.dumps(value, ensure_ascii=False))
    return cell_safe(str(value))


def csv_write(
    path: str, header: list[str], batches: Iterable[list[list]], progress: Callable[[int], None]
) -> None:
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow([cell_safe(label) for label in header])
        for rows in batches:
            writer.writerows([csv_cell(v) for v in row] for row in rows)
            progress(len(rows))


def xlsx_write(
    path: str,
    header: list[str],
    batches: Iterable[list[list]],
    progress: Callable[[int], None],
    *,
    expected_rows: int,
) -> None:
    with xlsx.XlsxStream(path, header, expected_rows=expected_rows) as book:
        for rows in batches:
            for row in rows:
                book.append(row)
            progress(len(rows))
