"""The import pipeline: upload → preview → map → analyze → options → import → report, the same for
the screens, the Celery tasks and `manage.py import_file`. This module creates a job from the
upload, reads its options and mapping and queues its runs; `imports.runs` does the runs' work
(reads the file, de-duplicates, chunks and counts), and this module names its
`import_job_analyze`, `import_job_run` and `import_report_line` for the tasks and
`manage.py import_file`. Targets (people, Do Not Contact) parse, classify and write rows.
"""

from __future__ import annotations

import uuid
from typing import IO, Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from audience.jobs import JobStatus, job_cancel, job_enqueue
from audience.models import Account, Membership, ProfileType, Role
from audience.templatetags.dates import when
from audience.text import text_storable_replace
from imports import files, mapping
from imports.models import ImportJob, ImportKind, ImportStage
from imports.runs import file_reading
from imports.runs import import_job_analyze as import_job_analyze
from imports.runs import import_job_run as import_job_run
from imports.runs import import_report_line as import_report_line


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
    # Kept as JSON (jsonb can't hold NUL): such a character is shown as U+FFFD; the analysis
    # rejects each row holding one, naming its column.
    rows = [[text_storable_replace(cell) for cell in row] for row in _preview_rows(job)]
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


def _preview_rows(job: ImportJob, *, limit: int = 10) -> list[list[str]]:
    """`files.preview_rows` of the job's file as it is read now; an encoding that can't read it
    (or is unknown) is refused with a message."""
    try:
        return files.preview_rows(**file_reading(job), limit=limit)
    except (UnicodeDecodeError, LookupError) as error:
        raise files.FileRefused(
            f"The file can't be read as {job.encoding}: {error}. Choose another encoding."
        ) from None


def import_job_preview(*, job: ImportJob, limit: int = 10) -> list[list[str]]:
    """The data rows of the mapping screen, from what the upload read (the file is not read
    again); a job uploaded before the preview was kept reads it."""
    rows = job.preview
    if not rows:
        rows = _preview_rows(job, limit=limit)
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
    """ "Import 3 Dec 2026 13:26": when the import was made, in the people date format and the
    account's time zone, without the comma (the Tags field of the import form splits on commas, so
    the name can be typed back). Set on the job when its options are saved; a stored name is kept."""
    return f"Import {when(job.created_at, job.account.tz).replace(',', '')}"


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


def tag_names(job: ImportJob) -> list[str]:
    names = list(job.options.get("tags") or [])
    if job.options.get("default_tag"):
        names.insert(0, job.options.get("default_tag_name") or default_tag_name(job))
    return names
