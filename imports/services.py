"""The import pipeline: upload → preview → map → analyze → options → import → report, the same for
the screens, the Celery tasks and `manage.py import_file`. Targets (people, Do Not Contact) parse,
classify and write rows; this module reads the file, de-duplicates, chunks and counts.

Counting is honest: every non-blank data row is read once and ends as exactly one of created,
updated, unchanged or rejected. Import chunks commit together with their counters and the row to
resume from, so a job killed in the middle resumes to the same final state.
"""

from __future__ import annotations

import csv
import functools
import gc
import itertools
import json
import os
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import F

from audience.jobs import JobDone, JobFailed, JobRun, JobStatus, job_cancel, job_enqueue, job_run
from audience.models import Account, Membership, ProfileType, Role
from audience.templatetags.dates import when
from imports import files, locks, mapping
from imports import streams as streams_
from imports.exports import cell_safe
from imports.models import ImportJob, ImportKind, ImportStage
from imports.targets.people import Outcome, PeopleTarget, Record, RowRejected

CHUNK = 5000


def import_job_create(
    *, account: Account, user: User | None, kind: str, name: str, stream: IO[bytes], size: int
) -> ImportJob:
    """Check and keep an uploaded file; raises files.FileRefused with the reason."""
    if kind not in ImportKind.values:
        raise ValidationError(f"{kind!r} is not an import kind.")
    folder = f"imports/{account.pk}/{uuid.uuid4().hex}"
    stored = files.upload_store(name=name, stream=stream, size=size, folder=folder)
    job = ImportJob(
        account=account,
        created_by=user,
        kind=kind,
        stage=ImportStage.MAP,
        file_name=stored.name,
        file_path=stored.path,
        file_size=stored.size,
        file_format=stored.file_format,
        zip_member=stored.zip_member,
        ignored_files=stored.ignored_files,
        encoding=stored.encoding,
        delimiter=stored.delimiter,
    )
    _read_start(job, has_header=None)
    job.save()
    return job


def _read_start(job: ImportJob, *, has_header: bool | None) -> None:
    """Read the first rows once (kept on the job for the mapping screen), decide whether the
    first is a header (`has_header` None: detected), and the columns and suggested mapping."""
    try:
        rows = files.preview_rows(
            path=job.file_path,
            file_format=job.file_format,
            encoding=job.encoding,
            delimiter=job.delimiter,
            skip_rows=job.skip_rows,
        )
    except (UnicodeDecodeError, LookupError) as error:
        raise files.FileRefused(
            f"The file can't be read as {job.encoding}: {error}. Choose another encoding."
        ) from None
    if not rows:
        raise files.FileRefused(f"{job.file_name} has no rows after the {job.skip_rows} skipped.")
    job.has_header = files.header_detect(rows[0]) if has_header is None else has_header
    job.preview = rows
    if job.has_header:
        job.headers = [h or f"Column {i + 1}" for i, h in enumerate(rows[0])]
        job.mapping = mapping.mapping_suggest(account=job.account, kind=job.kind, headers=job.headers)
    else:
        job.headers = [f"Column {i + 1}" for i in range(max(len(row) for row in rows))]
        job.mapping = mapping.mapping_suggest_by_values(kind=job.kind, rows=rows)


def import_job_preview(*, job: ImportJob, limit: int = 10) -> list[list[str]]:
    """The data rows of the mapping screen, from what the upload read (the file is not read
    again); a job uploaded before the preview was kept reads it."""
    rows = job.preview
    if not rows:
        try:
            rows = files.preview_rows(
                path=job.file_path,
                file_format=job.file_format,
                encoding=job.encoding,
                delimiter=job.delimiter,
                skip_rows=job.skip_rows,
                limit=limit,
            )
        except (UnicodeDecodeError, LookupError) as error:
            raise files.FileRefused(
                f"The file can't be read as {job.encoding}: {error}. Choose another encoding."
            ) from None
    width = len(job.headers)
    data = rows[1:] if job.has_header else rows
    return [(row + [""] * width)[:width] for row in data[:limit]]


def import_job_configure(
    *, job: ImportJob, encoding: str, delimiter: str, skip_rows: int, has_header: bool | None = None
) -> ImportJob:
    """Change how the file is read (`has_header` None: detected again); the headers, the
    preview and the suggested mapping follow. An analysis that failed (`can_remap`: a byte the
    encoding can't read) goes back to the mapping step."""
    if job.stage != ImportStage.MAP and not job.can_remap:
        raise ValidationError(
            "This file has been analyzed already: start a new import to read it differently."
        )
    if skip_rows < 0:
        raise ValidationError("Skip rows must be 0 or more.")
    job.encoding, job.delimiter, job.skip_rows = (
        encoding or job.encoding,
        delimiter or job.delimiter,
        skip_rows,
    )
    _read_start(job, has_header=has_header)
    job.stage, job.status, job.message, job.finished_at = ImportStage.MAP, JobStatus.PENDING, "", None
    job.save(
        update_fields=[
            "encoding",
            "delimiter",
            "skip_rows",
            "has_header",
            "headers",
            "preview",
            "mapping",
            "stage",
            "status",
            "message",
            "finished_at",
        ]
    )
    return job


def import_job_map(
    *,
    job: ImportJob,
    fields: list[str],
    new_fields: dict[int, tuple[str, str]] | None = None,
    analyze: bool = True,
) -> ImportJob:
    """Save the mapping (creating "add new field" attributes) and queue the analysis (again,
    after an analysis that failed)."""
    if job.stage != ImportStage.MAP and not job.can_remap:
        raise ValidationError("This import is past the mapping step.")
    fields = list(fields) + [""] * (len(job.headers) - len(fields))
    with transaction.atomic():
        for index, (name, type_) in (new_fields or {}).items():
            fields[index] = mapping.attribute_field_create(account=job.account, name=name, type=type_)
        job.mapping = mapping.mapping_validate(
            account=job.account, kind=job.kind, mapping=fields[: len(job.headers)]
        )
        job.stage, job.status, job.message, job.finished_at = ImportStage.ANALYZE, JobStatus.PENDING, "", None
        job.save(update_fields=["mapping", "stage", "status", "message", "finished_at"])
        if analyze:
            from imports import tasks

            job_enqueue(tasks.import_job_analyze_task, job)
    return job


def default_tag_name(job: ImportJob) -> str:
    """ "Import 3 Dec 2026, 13:26": when the import was made, in the people date format and the
    account's time zone. Set on the job when its options are saved; a stored name is kept as is."""
    return f"Import {when(job.created_at, job.account.tz)}"


def options_clean(*, job: ImportJob, user: User | None, options: dict[str, Any]) -> dict[str, Any]:
    if job.kind == ImportKind.DNC:
        ids = [int(a) for a in options.get("accounts") or [job.account_id]]
        # The command line (user None) is trusted with any account; a person with those they edit.
        members = Membership.objects.filter(role__in=(Role.ADMIN, Role.MARKETER))
        allowed = set(
            (members.filter(user=user) if user is not None else Account.objects.all()).values_list(
                "account_id" if user is not None else "pk", flat=True
            )
        )
        if not ids or not set(ids) <= allowed:
            raise ValidationError("Choose accounts you can change.")
        return {"accounts": sorted(set(ids))}
    type_ = options.get("type") or ProfileType.LEAD
    existing = options.get("existing") or "keep"
    if type_ not in ProfileType.values:
        raise ValidationError(f"{type_!r} is not a profile type: lead or customer.")
    if existing not in ("keep", "rewrite"):
        raise ValidationError(f"{existing!r} is not a policy: keep or rewrite.")
    tags = [t.strip() for t in options.get("tags") or [] if t and t.strip()]
    for tag in tags:
        if len(tag) > 256:
            raise ValidationError("A tag name has at most 256 characters.")
    return {
        "type": type_,
        "existing": existing,
        "tags": list(dict.fromkeys(tags)),
        "default_tag": bool(options.get("default_tag", True)),
    }


def import_job_start(
    *, job: ImportJob, user: User | None, options: dict[str, Any], run: bool = True
) -> ImportJob:
    """Options chosen after the analysis: queue the import."""
    if not job.is_analyzed:
        raise ValidationError("Analyze the file before importing it.")
    job.options = options_clean(job=job, user=user, options=options)
    if job.kind == ImportKind.PEOPLE and job.options["default_tag"]:
        job.options["default_tag_name"] = default_tag_name(job)
    job.stage, job.status, job.total, job.processed = ImportStage.IMPORT, JobStatus.PENDING, job.rows_read, 0
    job.rows_read = job.created = job.updated = job.unchanged = job.rejected = job.resume_row = 0
    with transaction.atomic():
        job.save()
        if run:
            from imports import tasks

            job_enqueue(tasks.import_job_run_task, job)
    return job


def import_job_cancel(*, job: ImportJob) -> bool:
    """Stop a queued or running analysis or import after its current chunk; chunks already
    committed stay imported (the report says how many)."""
    return job_cancel(job=job)


def _target(job: ImportJob, options: dict | None = None):
    if job.kind == ImportKind.DNC:
        from imports.targets.dnc import DncTarget

        return DncTarget(
            account=job.account, mapping=job.mapping, options=options or job.options, user=job.created_by
        )
    target = PeopleTarget(account=job.account, mapping=job.mapping, options=options or job.options)
    if options is None and job.stage == ImportStage.IMPORT:  # what did the analysis find?
        analysis = job.analysis or {}
        target.all_new = (
            analysis.get("new", 0) > 0
            and analysis.get("existing", 0) == 0
            and not analysis.get("reasons", {}).get(PeopleTarget.reasons["conflict"])
        )
    return target


def _data_rows(
    source: files.RowSource, skip_rows: int, has_header: bool = True
) -> Iterator[tuple[int, list[str]]]:
    """(row number in the file, cells) of every non-blank data row; the header is consumed."""
    if has_header:
        next(source.rows, None)
    for number, cells in enumerate(source.rows, start=skip_rows + 1 + has_header):
        if any(cells):
            yield number, cells


def _chunks(rows: Iterator[tuple[int, list[str]]]) -> Iterator[list[tuple[int, list[str]]]]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _parse_chunk(target, chunk, seen: dict[str, int]) -> tuple[list[Record], list[Outcome]]:
    """Parse rows; a row sharing a key with an earlier row of the file is a duplicate."""
    records, rejected = [], []
    for number, cells in chunk:
        try:
            record = target.parse(number, cells)
        except RowRejected as error:
            rejected.append(
                Outcome(Record(row_no=number, cells=cells), "rejected", error.code, error.message)
            )
            continue
        keys = target.keys(record)
        for key in keys:
            if key in seen:
                rejected.append(Outcome(record, "rejected", "duplicate", f"Same {key} as row {seen[key]}."))
                break
        else:
            for key in keys:
                seen[key] = number
            records.append(record)
    return records, rejected


def _open(job: ImportJob):
    return files.rows_open(
        path=job.file_path,
        file_format=job.file_format,
        encoding=job.encoding,
        delimiter=job.delimiter,
        skip_rows=job.skip_rows,
    )


# What the file can be found to be in the middle of a job: the job fails with a message, not a traceback.
FILE_ERRORS = (UnicodeDecodeError, files.FileRefused, csv.Error)


def _file_failed(job: ImportJob, error: Exception) -> JobFailed:
    if isinstance(error, UnicodeDecodeError):
        # The upload checked the first 64 KB only. `ImportJob.can_remap`: the mapping step can be
        # reached again from the job's page, to choose the encoding.
        name = dict(files.ENCODINGS).get(job.encoding, job.encoding)
        byte = error.object[error.start : error.start + 1].hex().upper()
        message = (
            f"The file is not valid {name} further down (byte 0x{byte} is not {name}, though its first "
            "64 KB were): go back to the mapping step and choose its encoding (Windows-1252 or -1250 "
            "for most files saved by Excel on Windows)."
        )
    elif isinstance(error, files.FileRefused):
        message = error.message
    else:
        message = f"The file can't be read: {error}"
    return JobFailed(message)


@contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """Python's cycle collector, started by allocations, walked every live object of the process
    (Django's too) again and again while a file's rows were made and dropped: ~25 % of a 300k-row
    analysis's CPU. The objects alive before the job are left out of its collections while it
    runs (`gc.freeze`); what the job makes is still collected — rejected rows leave reference
    cycles (a ValidationError lists itself), so pausing the collector would grow the memory."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@_older_objects_frozen()
def import_job_analyze(*, job_id: int) -> ImportJob | None:
    """Validate every row and count what an import would do; write the rejected rows' file."""
    return job_run(ImportJob, job_id, work=_analysis_work)


def _analysis_work(run: JobRun) -> JobDone | None:
    job = run.job
    target = _target(job, {"type": ProfileType.LEAD, "existing": "rewrite"})
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    seen: dict[str, int] = {}
    folder = os.path.dirname(job.file_path)
    # The rejected rows for people, and the valid rows' parsed values for the import (one JSON
    # line per chunk: rows read, rows rejected before matching, the parsed records).
    with (
        tempfile.TemporaryDirectory(prefix="analysis-") as scratch,
        open(os.path.join(scratch, "rejected.csv"), "w+", newline="", encoding="utf-8-sig") as out,
        open(os.path.join(scratch, "clean.jsonl"), "w", encoding="utf-8") as clean,
    ):
        writer = csv.writer(out)
        writer.writerow([cell_safe(h) for h in job.headers] + ["Row", "Reason"])
        try:
            with _open(job) as source:
                job.total = source.size
                for chunk in run.chunks(_chunks(_data_rows(source, job.skip_rows, job.has_header))):
                    records, rejected = _parse_chunk(target, chunk, seen)
                    clean.write(json.dumps([len(chunk), len(rejected), target.dump_chunk(records)]))
                    clean.write("\n")
                    outcomes = rejected + target.classify(records)
                    for outcome in outcomes:
                        counts[outcome.result] += 1
                        if outcome.result == "rejected":
                            reasons[outcome.code] += 1
                            writer.writerow(
                                [cell_safe(c) for c in outcome.record.cells]
                                + [outcome.record.row_no, outcome.message]
                            )
                    counts["rows"] += len(chunk)
                    job.processed = source.position()
                    ImportJob.objects.filter(pk=job.pk).update(processed=job.processed, total=job.total)
        except FILE_ERRORS as error:
            raise _file_failed(job, error) from error
        out.close()
        clean.close()
        if run.cancelled():
            return None
        with open(out.name, "rb") as saved:
            job.rejected_path = default_storage.save(folder + "/rejected.csv", File(saved))
        with open(clean.name, "rb") as saved:
            clean_path = default_storage.save(folder + "/clean.jsonl", File(saved))
    job.analysis = {
        "rows": counts["rows"],
        "valid": counts["rows"] - counts["rejected"],
        "rejected": counts["rejected"],
        "reasons": {target.reasons.get(code, code): n for code, n in reasons.most_common()},
        "duplicates": reasons["duplicate"],
        "new": counts["new"],
        "existing": counts["changed"] + counts["same"],
        "existing_changed": counts["changed"],
        "clean_path": clean_path,
    }
    job.rows_read = counts["rows"]
    job.total = job.processed = counts["rows"]
    job.save(update_fields=["analysis", "rejected_path", "rows_read"])
    return JobDone(
        message="",
        notice=f"{job.file_name} is analyzed: {job.analysis['valid']:,} valid rows, {job.analysis['rejected']:,} rejected.",
        level="info",
    )


@_older_objects_frozen()
def import_job_run(*, job_id: int) -> ImportJob | None:
    """Import the file in chunks; each chunk commits with the counters and the resume point."""
    return job_run(ImportJob, job_id, work=_import_work)


def _import_work(run: JobRun) -> JobDone | None:
    job = run.job
    target = _target(job)
    tags = target.tags_resolve(job) if hasattr(target, "tags_resolve") else []
    try:
        chunks = _chunks_to_write(job, target)
        streams = import_streams()
        with locks.account_writes_held(job, streams > 1):
            if streams > 1:
                # Those not committed (a failure stopped the streams): one at a time below.
                chunks = itertools.chain(
                    streams_.chunks_write_streamed(
                        job_id=job.pk,
                        chunks=chunks,
                        streams=streams,
                        writer=lambda: _stream_writer(job, tags),
                        keep_going=lambda: not run.cancelled(),
                    ),
                    chunks,
                )
            for item in run.chunks(chunks):
                with transaction.atomic():
                    locks.account_writes_lock(job)
                    _chunk_write(job, target, tags, item)()
        if run.cancelled():
            return None
        if tags and hasattr(target, "tags_touch"):
            target.tags_touch(tags)
    except FILE_ERRORS as error:
        raise _file_failed(job, error) from error
    job.refresh_from_db()
    job.total = job.rows_read
    return JobDone(
        message=import_report_line(job),
        notice=f"The import of {job.file_name} is complete: {import_report_line(job)}.",
    )


def import_streams() -> int:
    """How many connections write an import's chunks at once: IMPORT_STREAMS on PostgreSQL; one
    inside a transaction (a test's or a caller's: other connections can't see its rows) and on
    SQLite, which writes one transaction at a time."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    return max(1, settings.IMPORT_STREAMS)


def _chunks_to_write(job: ImportJob, target) -> Iterator[tuple[int, int, int, Any]]:
    """(rows up to and with the chunk, its rows, rows rejected before matching, valid rows) of
    each chunk not committed before an interruption."""
    done = 0
    for rows, rejected_n, records in _import_chunks(job, target):
        done += rows
        if done > job.resume_row:
            yield done, rows, rejected_n, records


def _stream_writer(job: ImportJob, tags: list) -> tuple[Callable, Callable]:
    """One stream's (prepare, write) for `imports.streams`, with a target of its own."""
    target = _target(job)

    def prepare(item: tuple[int, int, int, Any]) -> None:
        if hasattr(target, "prepare_chunk"):
            target.prepare_chunk(item[3])

    return prepare, functools.partial(_chunk_write, job, target, tags)


def _chunk_write(job: ImportJob, target, tags: list, item: tuple[int, int, int, Any]) -> Callable[[], None]:
    """Write one chunk in the open transaction; returns what adds its counters and resume point
    to the job (called last, just before the commit)."""
    done, rows, rejected_n, records = item
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The chunk's commit does not wait for the disk: a crash of the server may lose the
            # last chunks, each with its counters and resume_row, so the job writes them again;
            # the job's finish is an ordinary commit, which makes every chunk before it durable.
            cursor.execute("SET LOCAL synchronous_commit = off")
    counts, ids = target.import_chunk(records)
    if tags and ids:
        target.tags_apply(tags, ids)

    def record() -> None:
        ImportJob.objects.filter(pk=job.pk).update(
            rows_read=F("rows_read") + rows,
            created=F("created") + counts["created"],
            updated=F("updated") + counts["updated"],
            unchanged=F("unchanged") + counts["unchanged"],
            rejected=F("rejected") + rejected_n + counts.get("rejected", 0),
            resume_row=done,
            processed=done,
        )

    return record


def _import_chunks(job: ImportJob, target) -> Iterator[tuple[int, int, Any]]:
    """(rows read, rows rejected before matching, valid rows) per chunk: from the analysis's
    parsed rows when it kept them (nothing is validated twice; as `target.load_chunk` gives
    them), else the records of the file read again."""
    clean = (job.analysis or {}).get("clean_path")
    if clean and default_storage.exists(clean):
        with default_storage.open(clean, "rb") as handle:
            for line in handle:
                rows, rejected_n, data = json.loads(line)
                yield rows, rejected_n, target.load_chunk(data)
        return
    seen: dict[str, int] = {}
    with _open(job) as source:
        for chunk in _chunks(_data_rows(source, job.skip_rows, job.has_header)):
            records, rejected = _parse_chunk(target, chunk, seen)
            yield len(chunk), len(rejected), records


def import_report_line(job: ImportJob) -> str:
    return f"created={job.created} updated={job.updated} unchanged={job.unchanged} rejected={job.rejected}"


def tag_names(job: ImportJob) -> list[str]:
    names = list(job.options.get("tags") or [])
    if job.options.get("default_tag"):
        names.insert(0, job.options.get("default_tag_name") or default_tag_name(job))
    return names
