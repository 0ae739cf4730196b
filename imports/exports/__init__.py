"""Exports: People (a selection of the People screen, or a segment) and Do Not Contact (the
screen's filter or chosen entries) to CSV or .xlsx, as background jobs.

The rows come from the same selector the screen uses (`audience.selection.selection_queryset`,
`dnc.selectors.entries_for_account`), read in keyset batches of `.values_list` so memory stays
flat and no row costs a query of its own. Cells a spreadsheet would run as a formula, headers
included, are neutralised as `audience.spreadsheets` defines (a leading apostrophe in CSV, the
quotePrefix style in .xlsx).

The package: this module (jobs, the rows, which writer runs), `generic` (CSV and .xlsx from the
rows, on any database) and `postgres` (the people export built by PostgreSQL: COPY, and sheet XML
built in SQL), which writes what `generic` writes: tests/imports/test_exports.py holds them
together.
"""

from __future__ import annotations

import os
import re
import tempfile
import zoneinfo
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.dateparse import parse_datetime

from audience.fields import PROFILE_FIELDS
from audience.jobs import JobDone, JobRun, job_enqueue, job_run
from audience.models import Account, AttributeDefinition, AttributeType, Company, Contact
from audience.selection import Selection, selection_queryset
from audience.spreadsheets import cell_safe  # noqa: F401 (the exports' neutralisation, for callers)
from imports.exports import generic
from imports.models import ExportFormat, ExportJob, ExportKind

BATCH = 10_000
PEOPLE_COLUMNS = [
    ("id", "Id"),
    *[(f.name, f.export_column) for f in PROFILE_FIELDS],
    ("company_id", "Company"),
    ("created_at", "Created"),
    ("modified_at", "Modified"),
    ("attributes", ""),
]
# A stored date-time attribute, as `postgres._ATTRIBUTE_MOMENT` reads it.
_STORED_MOMENT = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$", re.ASCII
)
# Positions in a row of PEOPLE_COLUMNS.
_COMPANY = len(PROFILE_FIELDS) + 1
_ATTRIBUTES = _COMPANY + 3


def export_job_create(
    *,
    account: Account,
    user,
    kind: str,
    format: str,
    selection: dict | None = None,
    segment_id: int | None = None,
) -> ExportJob:
    if kind not in ExportKind.values:
        raise ValidationError(f"{kind!r} is not an export kind.")
    if format not in ExportFormat.values:
        raise ValidationError(f"{format!r} is not an export format: csv or xlsx.")
    if segment_id is not None:
        _segment(account, segment_id)  # refuse another account's segment now, not in the worker
    job = ExportJob(
        account=account,
        created_by=user,
        kind=kind,
        format=format,
        selection=selection or {},
        segment_id=segment_id,
    )
    with transaction.atomic():
        job.save()
        from imports import tasks

        job_enqueue(tasks.export_job_run_task, job)
    return job


def _segment(account: Account, segment_id: int):
    from segments.models import Segment

    try:
        return Segment.objects.get(account=account, pk=segment_id)
    except (Segment.DoesNotExist, ValueError, TypeError):
        raise ValidationError("There is no such segment.") from None


def people_queryset(job: ExportJob) -> QuerySet:
    if job.segment_id is not None:
        from segments.selectors import segment_profiles

        return segment_profiles(segment=_segment(job.account, job.segment_id))
    return selection_queryset(account=job.account, selection=Selection.from_json(job.selection))


def _keyset(queryset: QuerySet, fields: list[str]) -> Iterator[list[tuple]]:
    """Batches of rows in id order; each batch is one indexed range query (no OFFSET)."""
    last = 0
    while True:
        rows = list(queryset.filter(pk__gt=last).order_by("pk").values_list(*fields)[:BATCH])
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def export_zone(account: Account) -> zoneinfo.ZoneInfo:
    """Every moment in an export is in the account's time zone: ISO 8601 with its offset in CSV
    (2026-12-03T16:26:00+01:00), its wall time in .xlsx (Excel has no time zones). UTC for a
    zone name this system no longer knows, as on the screens."""
    try:
        return account.tz
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return zoneinfo.ZoneInfo("UTC")


def people_definitions(account: Account) -> list[tuple[str, str]]:
    """(name, type) of the account's custom attributes, in the export's column order."""
    return list(AttributeDefinition.objects.for_account(account).values_list("name", "type"))


def _moment(value: Any, zone: zoneinfo.ZoneInfo) -> Any:
    """A stored date-time attribute as ISO 8601 text in `zone` with its offset, in CSV and .xlsx
    alike (text in .xlsx too, so the file imports back as the same moment); any other value as it
    is."""
    if not isinstance(value, str):
        return value
    parsed = parse_datetime(value.replace("Z", "+00:00")) if _STORED_MOMENT.match(value) else None
    return parsed.astimezone(zone).isoformat() if parsed is not None else value


def _people_header(definitions: list[str]) -> list[str]:
    return [label for _, label in PEOPLE_COLUMNS if label] + ["Phones", "Emails", "Tags"] + definitions


def people_rows(job: ExportJob) -> tuple[list[str], Iterator[list[list]], int]:
    queryset = people_queryset(job)
    typed = people_definitions(job.account)
    definitions = [name for name, _ in typed]
    moments = {name for name, type_ in typed if type_ == AttributeType.DATETIME}
    zone = export_zone(job.account)
    header = _people_header(definitions)
    fields = [key for key, _ in PEOPLE_COLUMNS]
    from tags.models import ProfileTag

    def batches() -> Iterator[list[list]]:
        companies: dict[int, str] = {}
        for rows in _keyset(queryset, fields):
            # One range query per batch (not IN with 10,000 ids): rows of profiles outside the
            # selection are simply not looked up.
            span = (rows[0][0], rows[-1][0])
            contacts: dict[int, tuple[list[str], list[str]]] = {}
            for pid, kind, value in (
                Contact.objects.filter(account=job.account, profile__pk__range=span)
                .order_by("id")
                .values_list("profile_id", "kind", "value")
            ):
                contacts.setdefault(pid, ([], []))[0 if kind == "phone" else 1].append(value)
            tags: dict[int, list[str]] = {}
            for pid, name in ProfileTag.objects.filter(
                account=job.account, profile__pk__range=span
            ).values_list("profile_id", "tag__name"):
                tags.setdefault(pid, []).append(name)
            missing = {row[_COMPANY] for row in rows if row[_COMPANY] and row[_COMPANY] not in companies}
            if missing:
                companies.update(Company.objects.filter(pk__in=missing).values_list("pk", "name"))
            out = []
            for row in rows:
                phones, emails = contacts.get(row[0], ((), ()))
                attributes = row[_ATTRIBUTES] or {}
                company = companies.get(row[_COMPANY], "") if row[_COMPANY] else ""
                created, modified = (moment.astimezone(zone) for moment in row[_COMPANY + 1 : _ATTRIBUTES])
                line = [*row[:_COMPANY], company, created, modified]
                line += ["; ".join(phones), "; ".join(emails), "; ".join(sorted(tags.get(row[0], ())))]
                line += [
                    _moment(attributes.get(name, ""), zone) if name in moments else attributes.get(name, "")
                    for name in definitions
                ]
                out.append(line)
            yield out

    return header, batches(), queryset.count()


def dnc_rows(job: ExportJob) -> tuple[list[str], Iterator[list[list]], int]:
    """The Do Not Contact screen's export columns and values (`dnc.exports`), CSV or .xlsx; the
    Accounts column names the accounts of the person who asked for the export."""
    from dnc import exports as dnc_exports
    from dnc import selectors

    data = QueryDict(job.selection.get("query", ""))
    queryset = selectors.entries_for_account(account=job.account, filters=data)
    if job.selection.get("ids"):
        queryset = queryset.filter(pk__in=[int(i) for i in job.selection["ids"]])
    account_ids = {job.account_id}
    if job.created_by_id is not None:
        account_ids |= set(job.created_by.memberships.values_list("account_id", flat=True))
    rows = dnc_exports.entries_rows(queryset, account_ids=sorted(account_ids), zone=export_zone(job.account))
    return list(dnc_exports.HEADER), rows, queryset.count()


def export_job_run(*, job_id: int) -> ExportJob | None:
    """Write the export file from scratch (a re-run overwrites it) and keep it in storage."""
    return job_run(ExportJob, job_id, work=_export_work)


def _export_work(run: JobRun) -> JobDone | None:
    """The file is written in a temporary folder and put in storage whole, only when complete: a
    failure in the middle leaves no file to download."""
    from imports.exports import postgres

    job = run.job
    header, batches, total = people_rows(job) if job.kind == ExportKind.PEOPLE else dnc_rows(job)
    ExportJob.objects.filter(pk=job.pk).update(total=total)
    job.total, job.processed = total, 0

    def progress(rows: int) -> None:
        job.processed += rows
        ExportJob.objects.filter(pk=job.pk).update(processed=job.processed)

    fast = job.kind == ExportKind.PEOPLE and connection.vendor == "postgresql"
    with tempfile.TemporaryDirectory(prefix="export-") as folder:
        path = os.path.join(folder, f"export.{job.format}")
        if job.format == ExportFormat.CSV and fast:
            postgres.people_csv_copy(job, path)
        elif job.format == ExportFormat.CSV:
            generic.csv_write(path, header, batches, progress)
        elif fast:
            postgres.people_xlsx_copy(job, path)
        else:
            generic.xlsx_write(path, header, batches, progress, expected_rows=total)
        if run.cancelled():
            return None
        with open(path, "rb") as saved:
            job.file_path = default_storage.save(
                f"exports/{job.account_id}/{job.pk}/{job.download_name}", File(saved)
            )
    job.save(update_fields=["file_path"])
    rows = f"{job.processed:,} row{'' if job.processed == 1 else 's'}"
    return JobDone(
        message=f"{rows} exported.",
        notice=f"Your {job.get_kind_display()} export is ready: {rows}.",
    )
