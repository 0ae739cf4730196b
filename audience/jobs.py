"""The job row every long piece of work is: an import, an export, a bulk tag change, a broadcast.

The row is the source of truth for progress; the browser polls a fragment that reads it. A task
takes the row's id, claims it with a conditional UPDATE (`job_claim`), works in chunks that each
commit and advance `processed`, and can be retried or resumed without duplicating anything.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


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
    if claimed:
        return True
    return model.objects.filter(pk=pk, status=JobStatus.RUNNING).exists()


def job_finish(job: Job, *, status: str = JobStatus.DONE, message: str = "") -> None:
    job.status = status
    job.finished_at = timezone.now()
    if message:
        job.message = message
    job.save(update_fields=["status", "finished_at", "message", "processed", "total"])
