"""The job row every long piece of work is: an import, an export, a bulk tag change, a broadcast.

The row is the source of truth for progress; the browser polls a fragment that reads it. A task
takes the row's id, claims it with a conditional UPDATE (`job_claim`), works in chunks that each
commit and advance `processed`, and can be retried or resumed without duplicating anything.

While a task works, a thread beats `heartbeat_at`: a running job whose heartbeat stopped belongs
to a dead worker and is taken over (see "When a worker dies" in docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, models, transaction
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
    # Beaten by the working process while the job runs; the task that works on it, so a job whose
    # worker died (the heartbeat stopped) can be queued again.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    task = models.CharField(max_length=200, blank=True, default="")

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
        status=JobStatus.RUNNING, started_at=now, heartbeat_at=now
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


def job_task_run(task, model: type[Job], pk: int, work: Callable[..., object]) -> None:
    """What a job's Celery task does: skip a job another live worker is on, else call
    `work(job_id=pk)` while a thread beats the row's heartbeat."""
    model.objects.filter(pk=pk).exclude(task=task.name).update(task=task.name)
    if task.request.is_eager:  # in-process (tests, debugging): no other worker to tell apart
        work(job_id=pk)
        return
    if not job_take_over(model, pk):
        log.info("%s %s is being worked on by a live worker; this delivery does nothing", model.__name__, pk)
        return
    with job_heartbeat(model, pk):
        work(job_id=pk)


def job_take_over(model: type[Job], pk: int) -> bool:
    """False when a live worker is on the job. A running job is a redelivery: its worker died (the
    heartbeat stops within JOB_STALE_SECONDS) or is alive and slow (the heartbeat moves on); wait
    to tell which, then take the job over with a compare-and-swap so one delivery wins."""
    row = model.objects.filter(pk=pk).values("status", "heartbeat_at").first()
    if row is None or row["status"] != JobStatus.RUNNING or row["heartbeat_at"] is None:
        return True  # pending or finished: the service's claim decides
    seen = row["heartbeat_at"]
    stale = dt.timedelta(seconds=settings.JOB_STALE_SECONDS)
    while timezone.now() < seen + stale:
        time.sleep(min(settings.JOB_HEARTBEAT_SECONDS, 1))
        now = model.objects.filter(pk=pk).values("status", "heartbeat_at").first()
        if now is None or now["status"] != JobStatus.RUNNING or now["heartbeat_at"] != seen:
            return False  # finished, cancelled or beating: someone else has it
    return bool(
        model.objects.filter(pk=pk, status=JobStatus.RUNNING, heartbeat_at=seen).update(
            heartbeat_at=timezone.now()
        )
    )


@contextmanager
def job_heartbeat(model: type[Job], pk: int):
    """Beat `heartbeat_at` every JOB_HEARTBEAT_SECONDS from a thread while the block runs. The
    thread dies with the process, so a killed worker's jobs go stale."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.JOB_HEARTBEAT_SECONDS):
                model.objects.filter(pk=pk, status=JobStatus.RUNNING).update(heartbeat_at=timezone.now())
        except Exception:  # a lost beat only delays nothing: the work goes on
            log.exception("heartbeat of %s %s failed", model.__name__, pk)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"heartbeat-{model.__name__}-{pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def job_models() -> list[type[Job]]:
    from django.apps import apps

    return [m for m in apps.get_models() if issubclass(m, Job)]


def job_stale_requeue() -> int:
    """Queue again every running job whose heartbeat stopped (its worker was killed with the
    message still unacknowledged: Redis would redeliver it only after the visibility timeout)."""
    from audience.models import TaskOutbox

    cutoff = timezone.now() - dt.timedelta(seconds=settings.JOB_STALE_SECONDS)
    queued = 0
    for model in job_models():
        stale = model.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).exclude(task="")
        for pk, task_name in stale.values_list("pk", "task")[:1000]:
            log.warning("%s %s: its worker stopped beating; queued again", model.__name__, pk)
            row = TaskOutbox.objects.create(task_name=task_name, args=[pk])
            _send(row.pk)
            queued += 1
    return queued
