"""The work of an import job: the analysis (every row validated and counted, the rejected rows'
file written) and the import (the analysis's parsed rows written in chunks, on one connection or
several streams). `imports.services` creates and configures the jobs and queues these.

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
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import F

from audience.jobs import JobDone, JobFailed, JobRun, chunk_commit_unflushed, job_run
from audience.models import ProfileType
from audience.text import text_unstorable
from imports import files, locks
from imports import streams as streams_
from imports.exports import cell_safe
from imports.models import ImportJob, ImportKind, ImportStage
from imports.targets.people import Outcome, PeopleTarget, Record, RowRejected

CHUNK = 5000


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


def _cells_storable(cells: list[str], headers: Sequence[str]) -> None:
    """A row holding text the database can't store (`audience.text`) is rejected, naming the
    column, whether or not the column is mapped: the job goes on with the other rows."""
    for index, cell in enumerate(cells):
        if reason := text_unstorable(cell):
            column = headers[index] if index < len(headers) else f"Column {index + 1}"
            raise RowRejected("value", f"{column} (column {index + 1}) {reason}.")


def _parse_chunk(
    target, chunk, seen: dict[str, int], headers: Sequence[str] = ()
) -> tuple[list[Record], list[Outcome]]:
    """Parse rows; a row sharing a key with an earlier row of the file is a duplicate."""
    records, rejected = [], []
    for number, cells in chunk:
        try:
            _cells_storable(cells, headers)
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


def file_reading(job: ImportJob) -> dict[str, Any]:
    """How the job's file is read now: the arguments of `files.rows_open` and `files.preview_rows`."""
    return {
        "path": job.file_path,
        "file_format": job.file_format,
        "encoding": job.encoding,
        "delimiter": job.delimiter,
        "skip_rows": job.skip_rows,
    }


def _open(job: ImportJob):
    return files.rows_open(**file_reading(job))


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
                    records, rejected = _parse_chunk(target, chunk, seen, job.headers)
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
    # The chunk's commit does not wait for the disk: a crash of the server may lose the last
    # chunks, each with its counters and resume_row, so the job writes them again; the job's
    # finish is an ordinary commit, which makes every chunk before it durable.
    chunk_commit_unflushed()
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
            records, rejected = _parse_chunk(target, chunk, seen, job.headers)
            yield len(chunk), len(rejected), records


def import_report_line(job: ImportJob) -> str:
    return f"created={job.created} updated={job.updated} unchanged={job.unchanged} rejected={job.rejected}"
