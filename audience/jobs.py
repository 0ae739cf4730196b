"""The job row every long piece of work is: an import, an export, a bulk tag change, a broadcast.

The row is the source of truth for progress; the browser polls a fragment that reads it. A task
takes the row's id, claims it with a conditional UPDATE (`job_claim`), works in chunks that each
commit and advance `processed`, and can be retried or resumed without duplicating anything.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

log = logging.getLogger(__name__)
QUEUE_DOWN = (
    "The task queue can't be reached right now. The job is saved and will start by itself "
    "as soon as the queue is back."
)


class JobStatus(models.TextChoices):
    PENDING = "pending", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(models.Model):
    account = models.ForeignKey("audience.Account", on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    total = models.PositiveBigIntegerField(default=0)
    processed = models.PositiveBigIntegerField(default=0)
    message = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    @property
    def percent(self) -> int:
        if self.status == JobStatus.DONE:
            return 100
        if not self.total:
            return 0
        return min(100, int(self.processed * 100 / self.total))

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


def job_claim(model: type[Job], pk: int) -> bool:
    """Move a queued (or interrupted, running) job to running; True when this caller may work.

    A job found `running` is one whose worker died (acks_late redelivered it): it may resume,
    because every chunk it did is committed and chunks are idempotent.
    """
    now = timezone.now()
    claimed = model.objects.filter(pk=pk, status=JobStatus.PENDING).update(
        status=JobStatus.RUNNING, started_at=now
    )
    model.objects.filter(pk=pk, message=QUEUE_DOWN).update(message="")
    if claimed:
        return True
    return model.objects.filter(pk=pk, status=JobStatus.RUNNING).exists()


def job_finish(job: Job, *, status: str = JobStatus.DONE, message: str = "") -> None:
    job.status = status
    job.finished_at = timezone.now()
    if message:
        job.message = message
    job.save(update_fields=["status", "finished_at", "message", "processed", "total"])


def job_enqueue(task, job: Job) -> None:
    """Queue `task(job.pk)` once the current transaction commits, through the outbox: when the
    broker is down the job keeps its row, says so in its message, and starts when it is back."""
    from audience.models import TaskOutbox

    outbox = TaskOutbox.objects.create(task_name=task.name, args=[job.pk])
    transaction.on_commit(lambda: _send(outbox.pk, job))


def _send(outbox_pk: int, job: Job | None = None) -> bool:
    from audience.celery import app
    from audience.models import TaskOutbox

    row = TaskOutbox.objects.filter(pk=outbox_pk).first()
    if row is None:
        return True
    if app.conf.task_always_eager:  # tests and debugging: run it here, as .delay() would
        row.delete()
        app.tasks[row.task_name].apply(args=row.args, throw=True)
        return True
    try:
        app.send_task(row.task_name, args=row.args, retry=False)
    except Exception as error:  # any broker failure: keep the row, tell the user
        log.warning("queueing %s failed: %s", row, error)
        TaskOutbox.objects.filter(pk=row.pk).update(attempts=row.attempts + 1, last_error=str(error)[:1000])
        if job is not None:
            type(job).objects.filter(pk=job.pk, status=JobStatus.PENDING).update(message=QUEUE_DOWN)
        return False
    row.delete()
    return True


def task_outbox_flush(*, older_than_seconds: int = 10) -> int:
    """Send what the outbox still holds (the broker was down); returns how many were sent."""
    from audience.models import TaskOutbox

    cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
    sent = 0
    for pk in TaskOutbox.objects.filter(created_at__lte=cutoff).values_list("pk", flat=True)[:1000]:
        if not _send(pk):
            break
        sent += 1
    return sent
