""" "Manage tags" on a People selection: add and remove tags on the chosen rows or on every profile
matching the People filter.

Up to `settings.BULK_SYNC_LIMIT` profiles the change runs in the request; above it a
`TagBulkJob` row keeps the selection and the tags, and a Celery task works through the profiles
in chunks ordered by id. Each chunk's inserts (ON CONFLICT DO NOTHING) and deletes commit together
with the job's cursor and counters, so a resumed job continues after the last committed chunk and
a re-run reaches the same final state.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audience import counting
from audience.counting import count_with_timeout
from audience.jobs import JobDone, JobRun, JobStatus, job_cancel, job_enqueue, job_run
from audience.models import Account
from audience.selection import Selection, selection_queryset
from tags import services
from tags.models import BulkAction, ProfileTag, Tag, TagBulkJob

CHUNK = 2000


@dataclass
class BulkResult:
    job: TagBulkJob | None = None  # set when the change went to the background
    profiles: int = 0
    added: int = 0
    removed: int = 0


def selection_count(*, account: Account, selection: Selection) -> int | None:
    """How many profiles the selection holds, or None when counting took too long."""
    if selection.ids is not None and len(selection.ids) <= settings.BULK_SYNC_LIMIT:
        return selection_queryset(account=account, selection=selection).count()
    return count_with_timeout(selection_queryset(account=account, selection=selection))


def _action(add: list[Tag], remove: list[Tag]) -> str:
    if add and remove:
        return BulkAction.ADD_REMOVE
    return BulkAction.ADD if add else BulkAction.REMOVE


def tag_bulk_change(
    *,
    account: Account,
    user,
    selection: Selection,
    add: list[Tag],
    remove: list[Tag],
    count: int | None = None,
) -> BulkResult:
    """Add `add` and remove `remove` on the selection: now when it is small, else as a job."""
    if not add and not remove:
        raise ValidationError("Choose tags to add or to remove.")
    if {t.pk for t in add} & {t.pk for t in remove}:
        raise ValidationError("A tag can't be both added and removed.")
    if any(tag.account_id != account.pk for tag in add + remove):
        raise ValidationError("That tag belongs to another account.")
    if count is None:
        count = selection_count(account=account, selection=selection)
    if count is not None and count <= settings.BULK_SYNC_LIMIT:
        ids = list(selection_queryset(account=account, selection=selection).values_list("pk", flat=True))
        with transaction.atomic():
            added = services.tags_add(account=account, tags=add, profile_ids=ids) if add else 0
            removed = services.tags_remove(account=account, tags=remove, profile_ids=ids) if remove else 0
        return BulkResult(profiles=len(ids), added=added, removed=removed)
    job = TagBulkJob.objects.create(
        account=account,
        created_by=user,
        selection=selection.to_json(),
        action=_action(add, remove),
        add_tag_ids=[t.pk for t in add],
        remove_tag_ids=[t.pk for t in remove],
        total=count or 0,
    )
    from tags.tasks import tag_bulk_job_run_task

    job_enqueue(tag_bulk_job_run_task, job)
    return BulkResult(job=job, profiles=count or 0)


def tag_bulk_apply(
    *, account: Account, user, selection: Selection, data: dict, count: int | None = None
) -> BulkResult:
    """The "Manage tags" form's cleaned data (`add`, `new` names, `remove`) applied to a selection;
    new names are created (or found, regardless of case) first."""
    with transaction.atomic():
        add = list(data.get("add") or [])
        for tag in services.tags_get_or_create(account=account, names=data.get("new") or []):
            if tag not in add:
                add.append(tag)
        return tag_bulk_change(
            account=account,
            user=user,
            selection=selection,
            add=add,
            remove=list(data.get("remove") or []),
            count=count,
        )


def tag_bulk_job_run(*, job_id: int) -> TagBulkJob | None:
    """Work through a job's selection chunk by chunk; safe to call again on the same job. A
    filter that no longer applies (a tag in it was deleted) fails the job with its reason."""
    return job_run(TagBulkJob, job_id, work=_tag_bulk_work)


def _tag_bulk_work(run: JobRun) -> JobDone | None:
    job = run.job
    account = job.account
    add = list(Tag.objects.for_account(account).filter(pk__in=job.add_tag_ids))
    remove = list(Tag.objects.for_account(account).filter(pk__in=job.remove_tag_ids))
    profiles = selection_queryset(account=account, selection=Selection.from_json(job.selection))
    if not job.total:
        TagBulkJob.objects.filter(pk=job.pk).update(total=profiles.count())
    for ids in run.id_chunks(profiles, after=job.last_profile_id, size=CHUNK):
        if not _chunk_apply(job, add, remove, ids):
            return None  # cancelled: the chunk was rolled back, the ones before it stay
    if run.stopped:
        return None
    now = timezone.now()
    Tag.objects.filter(pk__in=[t.pk for t in add + remove]).update(modified_at=now)
    job.refresh_from_db()
    return JobDone(message=_summary(job, add, remove), notice=_summary(job, add, remove))


def _chunk_apply(job: TagBulkJob, add: list[Tag], remove: list[Tag], ids: list[int]) -> bool:
    with transaction.atomic():
        added = removed = 0
        if add:
            added = services.links_insert(
                account_id=job.account_id, tag_ids=[t.pk for t in add], profile_ids=ids
            )
        if remove:
            removed = ProfileTag.objects.filter(tag__in=remove, profile_id__in=ids).delete()[0]
        counting.data_changed(account_ids=[job.account_id])
        still_running = TagBulkJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            last_profile_id=ids[-1],
            processed=F("processed") + len(ids),
            added=F("added") + added,
            removed=F("removed") + removed,
        )
        if not still_running:
            transaction.set_rollback(True)
            return False
    job.last_profile_id = ids[-1]
    return True


def _summary(job: TagBulkJob, add: list[Tag], remove: list[Tag]) -> str:
    parts = []
    if add:
        parts.append(f"added {', '.join(t.name for t in add)} ({job.added:,} new)")
    if remove:
        parts.append(f"removed {', '.join(t.name for t in remove)} ({job.removed:,} taken off)")
    return f"Tags changed on {job.processed:,} profiles: {'; '.join(parts)}."


def tag_bulk_job_cancel(*, job: TagBulkJob) -> bool:
    """Stop a queued or running job after its current chunk (chunks done stay done)."""
    return job_cancel(job=job)
