"""Removing "all N matching the filter" of the Do Not Contact screen, as a job.

A wrong import of 300,000 entries must be undone from the screen: the filter (source Import,
added on that day…) is kept on a `DncRemoveJob` row and a task removes the matching entries in
chunks. Each chunk's removal (with its audit rows) commits together with the job's counter, so a
resumed job goes on with what still matches; entries added after the job started are left alone.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet

from audience.jobs import JobDone, JobRun, JobStatus, job_cancel, job_enqueue, job_run
from audience.models import Account
from dnc import selectors, services
from dnc.models import DncRemoveJob, How

CHUNK = 1000


def _matching(*, account: Account, filters: dict, other_account_ids: list[int]) -> QuerySet:
    return selectors.entries_for_account(
        account=account, filters=filters, account_choices=[(pk, "") for pk in other_account_ids]
    )


def dnc_remove_job_start(
    *, account: Account, user, filters: dict[str, list[str]], other_account_ids: list[int]
) -> DncRemoveJob:
    """Queue the removal of every entry of `account` matching the screen's `filters`;
    ValidationError for a bad filter or when nothing matches."""
    filters = {key: list(values) for key, values in filters.items() if key not in ("sort", "after")}
    total = _matching(account=account, filters=filters, other_account_ids=other_account_ids).count()
    if not total:
        raise ValidationError("No entry matches these filters: there is nothing to remove.")
    job = DncRemoveJob.objects.create(
        account=account, created_by=user, filters=filters, other_account_ids=other_account_ids, total=total
    )
    from dnc.tasks import dnc_remove_job_run_task

    job_enqueue(dnc_remove_job_run_task, job)
    return job


def dnc_remove_job_run(*, job_id: int) -> DncRemoveJob | None:
    """Remove what the job's filter matches, chunk by chunk; safe to call again on the same job."""
    return job_run(DncRemoveJob, job_id, work=_dnc_remove_work)


def _dnc_remove_work(run: JobRun) -> JobDone | None:
    job = run.job
    matching = _matching(
        account=job.account, filters=job.filters, other_account_ids=job.other_account_ids
    ).filter(added_at__lte=job.created_at)
    while not run.cancelled():
        ids = list(matching.order_by("entry_id").values_list("entry_id", flat=True)[:CHUNK])
        if not ids:
            break
        with transaction.atomic():
            removed = services.dnc_entries_remove(
                entry_ids=ids, account=job.account, removed_by=job.created_by, how=How.UI
            )
            if not DncRemoveJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
                processed=F("processed") + removed
            ):
                transaction.set_rollback(True)  # cancelled: this chunk stays on the list
                return None
    if run.stopped:
        return None
    job.refresh_from_db()
    message = f"Removed {job.processed:,} entries from the Do Not Contact list."
    return JobDone(message=message, notice=message)


def dnc_remove_job_cancel(*, job: DncRemoveJob) -> bool:
    """Stop a queued or running removal after its current chunk (entries removed stay removed)."""
    return job_cancel(job=job)
