"""`python -m benchmarks xlsx_bench --account NAME`: the People .xlsx export of an existing account
(e.g. one `seed_demo` made), written by our streaming writer (`imports.xlsx.XlsxStream`) and by
XlsxWriter's `constant_memory` mode, from the same rows read once; and the PostgreSQL export
(sheet XML built by SQL, `imports.exports`) end to end. Median of --runs each, in one run, and
the ratios. XlsxWriter is not a dependency: put it on PYTHONPATH to measure it.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import tempfile
import time

from django.core.management.base import BaseCommand
from django.db import connection

from audience.models import Account
from audience.spreadsheets import formula_like
from imports import exports, xlsx
from imports.exports import postgres
from imports.models import ExportFormat, ExportJob, ExportKind


def _xlsxwriter_write(path: str, header: list[str], rows: list[list]) -> None:
    """The same cells as `xlsx.XlsxStream.append` writes: typed numbers, booleans and dates,
    inline text styled quotePrefix where a spreadsheet would read a formula."""
    import xlsxwriter

    book = xlsxwriter.Workbook(
        path,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "remove_timezone": True,
        },
    )
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    datetime_format = book.add_format({"num_format": "yyyy-mm-dd h:mm:ss"})
    quoted = book.add_format({"quote_prefix": True})
    sheet = book.add_worksheet("Export")
    for c, label in enumerate(header):
        sheet.write_string(0, c, label, quoted if formula_like(label) else None)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            kind = type(value)
            if kind is str:
                if value:
                    sheet.write_string(r, c, value, quoted if formula_like(value) else None)
            elif kind is bool:
                sheet.write_boolean(r, c, value)
            elif kind is int or kind is float:
                sheet.write_number(r, c, value)
            elif kind is dt.datetime:
                sheet.write_datetime(r, c, value, datetime_format)
            elif kind is dt.date:
                sheet.write_datetime(r, c, value, date_format)
            elif value is not None:
                sheet.write_string(r, c, str(value))
    book.close()


def _ours_write(path: str, header: list[str], rows: list[list]) -> None:
    with xlsx.XlsxStream(path, header, expected_rows=len(rows)) as book:
        for row in rows:
            book.append(row)


class Command(BaseCommand):
    help = "Compare .xlsx writers on a People export."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True)
        parser.add_argument("--runs", type=int, default=3)

    def handle(self, *args, account: str, runs: int, **options):
        account_obj = Account.objects.get(name=account)
        job = ExportJob(account=account_obj, kind=ExportKind.PEOPLE, format=ExportFormat.XLSX, selection={})
        started = time.perf_counter()
        header, batches, total = exports.people_rows(job)
        rows = [row for batch in batches for row in batch]
        read = time.perf_counter() - started
        job.total = total
        self.stdout.write(f"{len(rows):,} rows of {len(header)} columns read in {read:.1f} s")
        timings: dict[str, list[float]] = {"ours": [], "xlsxwriter": [], "postgresql": []}
        sizes: dict[str, int] = {}
        with tempfile.TemporaryDirectory(prefix="xlsx-bench-") as folder:
            writers = {"ours": _ours_write, "xlsxwriter": _xlsxwriter_write}
            for n in range(runs):
                # Interleaved, so that a slower spell of the shared machine falls on each alike.
                for name, write in writers.items():
                    path = os.path.join(folder, f"{name}.xlsx")
                    started = time.perf_counter()
                    write(path, header, rows)
                    timings[name].append(time.perf_counter() - started)
                    sizes[name] = os.path.getsize(path)
                if connection.vendor == "postgresql":
                    path = os.path.join(folder, "postgresql.xlsx")
                    job.processed = 0
                    started = time.perf_counter()
                    postgres.people_xlsx_copy(job, path)
                    timings["postgresql"].append(time.perf_counter() - started)
                    sizes["postgresql"] = os.path.getsize(path)
                self.stdout.write(
                    f"run {n + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in timings.items() if v)
                )
        median = {k: statistics.median(v) for k, v in timings.items() if v}
        for name, seconds in median.items():
            per_second = len(rows) / seconds
            extra = " (reads the database too)" if name == "postgresql" else " (writing only)"
            self.stdout.write(
                f"{name}: median {seconds:.2f} s, {per_second:,.0f} rows/s, {sizes[name] / 1e6:.1f} MB{extra}"
            )
        self.stdout.write(f"xlsxwriter / ours (writing): {median['xlsxwriter'] / median['ours']:.2f}")
        if "postgresql" in median:
            self.stdout.write(
                f"read + xlsxwriter / postgresql path: {(read + median['xlsxwriter']) / median['postgresql']:.2f}"
            )
