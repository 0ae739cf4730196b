"""The job row every long piece of work is (an import, an export, a bulk tag change, a broadcast)
and the one runner that owns its lifecycle.

The row is the source of truth for progress; the browser polls a fragment that reads it. A kind of
job writes only its work, `work(run) -> JobDone | None`, and calls `job_run(Model, job_id,
work=work)`, which claims the row with a conditional UPDATE, hands the work a `JobRun` (the row,
the shared cancel check and chunk iterators) and ends the job whatever happens: done with the
work's summary, cancelled, or failed with a reason a person can read (and the traceback in the
log) — the owner is notified either way. Chunks commit and are idempotent, so a job interrupted
in the middle resumes; one started `JOB_MAX_ATTEMPTS` times without finishing gives up.

While a task works, a thread beats `heartbeat_at`: a running job whose heartbeat stopped belongs
to a dead worker and is taken over (see "When a worker dies" in docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import User

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
    # How many times a worker started on the job (the first start is 1; each resume after a dead
    # worker adds one): a job that keeps killing its worker gives up at JOB_MAX_ATTEMPTS.
    attempts = models.PositiveSmallIntegerField(default=0)

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

    @property
    def job_title(self) -> str:
        """How notifications name the job ("The import of people.csv failed: …")."""
        return f"The {self._meta.verbose_name}"

    @property
    def job_owner(self) -> User | None:
        """Who is told how the job ended."""
        return self.created_by

    if TYPE_CHECKING:  # the page of a kind that notifies its owner (a webhook's batch has neither)

        def get_absolute_url(self) -> str: ...


# The code below works on any kind of job: it reaches rows through `_default_manager` (each kind's
# only manager, `objects`), which the type checker knows for a `type[J]`.
J = TypeVar("J", bound=Job)


def chunk_commit_unflushed() -> None:
    """The open transaction's commit does not wait for the disk (PostgreSQL; elsewhere nothing).
    For a job's chunk whose loss in a crash of the database server the job repairs by itself: it
    is redone from its resume point, and what it wrote is written again or found written. Never
    for a write that promises something to the outside world (an email's hand-off key)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def job_claim(model: type[Job], pk: int) -> bool:
    """Move a queued (or interrupted, running) job to running; True when this caller may work.

    A job found `running` is one whose worker died (acks_late redelivered it, or
    `job_stale_requeue` queued it again): it may resume, because every chunk it did is committed
    and chunks are idempotent — unless it was started JOB_MAX_ATTEMPTS times already, when it
    gives up (`job_give_up`) instead of killing one more worker.
    """
    now = timezone.now()
    claimed = model._default_manager.filter(pk=pk, status=JobStatus.PENDING).update(
        status=JobStatus.RUNNING, started_at=now, heartbeat_at=now, attempts=1
    )
    model._default_manager.filter(pk=pk, message=QUEUE_DOWN).update(message="")
    if claimed:
        return True
    resumed = model._default_manager.filter(
        pk=pk, status=JobStatus.RUNNING, attempts__lt=settings.JOB_MAX_ATTEMPTS
    ).update(attempts=F("attempts") + 1, heartbeat_at=now)
    if resumed:
        return True
    job_give_up(model, pk)
    return False


def job_finish(job: Job, *, status: str = JobStatus.DONE, message: str = "") -> bool:
    """End a running job with its counters as `job` holds them; False (and nothing written) when
    it is no longer running (cancelled meanwhile, or given up)."""
    job.status = status
    job.finished_at = timezone.now()
    if message:
        job.message = message
    return bool(
        type(job)
        ._default_manager.filter(pk=job.pk, status=JobStatus.RUNNING)
        .update(
            status=status,
            finished_at=job.finished_at,
            message=job.message,
            processed=job.processed,
            total=job.total,
        )
    )


def job_cancel(*, job: Job) -> bool:
    """Stop a queued or running job of any kind: the runner stops before its next chunk (chunks
    already committed stay). False when it had ended already."""
    return bool(
        type(job)
        ._default_manager.filter(pk=job.pk, status__in=(JobStatus.PENDING, JobStatus.RUNNING))
        .update(status=JobStatus.CANCELLED, finished_at=timezone.now(), message="Cancelled.")
    )


def job_notify(job: Job, *, message: str, level: str = "info") -> None:
    from audience.services import notification_create

    if job.job_owner is None:  # a job nobody started (a webhook's batch): its row says how it ended
        return
    notification_create(
        account=job.account, user=job.job_owner, message=message, url=job.get_absolute_url(), level=level
    )


def job_fail(job: Job, *, message: str) -> bool:
    """Fail a running job with `message` (what a person reads) and tell its owner."""
    failed = (
        type(job)
        ._default_manager.filter(pk=job.pk, status=JobStatus.RUNNING)
        .update(status=JobStatus.FAILED, finished_at=timezone.now(), message=message)
    )
    if failed:
        job.status, job.message = JobStatus.FAILED, message
        job_notify(job, message=f"{job.job_title} failed: {message}", level="danger")
    return bool(failed)


def gave_up_message(attempts: int) -> str:
    return (
        f"Gave up after {attempts} attempts: each time, the worker running this job stopped before it "
        "finished (it was killed or ran out of memory). The details are in the worker's log."
    )


def job_give_up(model: type[Job], pk: int) -> bool:
    """Fail a running job started JOB_MAX_ATTEMPTS times (or more) that did not finish."""
    job = (
        model._default_manager.select_related("account")
        .filter(pk=pk, status=JobStatus.RUNNING, attempts__gte=settings.JOB_MAX_ATTEMPTS)
        .first()
    )
    if job is None:
        return False
    log.error("%s %s: gave up after %s attempts", model.__name__, pk, job.attempts)
    return job_fail(job, message=gave_up_message(job.attempts))


class JobFailed(Exception):
    """An expected failure the work reports with a message for a person (the file is not valid
    UTF-8): the job fails with that message, and no traceback is logged."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class JobDone:
    """What a finished job says: `message` on the job row, `notice` to its owner."""

    message: str
    notice: str
    level: str = "success"


T = TypeVar("T")


class JobRun(Generic[J]):
    """The claimed job as its work sees it: the row (`job`), the cancel check and the chunk
    iterators every kind shares. `stopped` is True once an iterator stopped for a cancel."""

    def __init__(self, model: type[J], job: J):
        self.model, self.job, self.stopped = model, job, False

    def cancelled(self) -> bool:
        """True when the job is no longer running: cancelled by a person, or given up."""
        if not self.stopped:
            self.stopped = not self.model._default_manager.filter(
                pk=self.job.pk, status=JobStatus.RUNNING
            ).exists()
        return self.stopped

    def chunks(self, items: Iterable[T]) -> Iterator[T]:
        """Each chunk of `items`, until the job is cancelled (checked before each one)."""
        for item in items:
            if self.cancelled():
                return
            yield item

    def id_chunks(self, queryset: QuerySet, *, after: int, size: int) -> Iterator[list[int]]:
        """The ids of `queryset` above `after` (the job's committed cursor), `size` at a time in
        id order (a keyset: each chunk one indexed range query), until the job is cancelled."""
        while not self.cancelled():
            ids = list(queryset.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:size])
            if not ids:
                return
            yield ids
            after = ids[-1]


def unexpected_message(error: Exception) -> str:
    text = (str(error).strip().splitlines() or [""])[0][:300]
    reason = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return (
        f"Stopped by an unexpected error ({reason}). The details are in the worker's log: try "
        "again, or show this message to your administrator."
    )


def job_run(model: type[J], job_id: int, *, work: Callable[[JobRun[J]], JobDone | None]) -> J | None:
    """Claim the job and run `work` on it; the job always ends. `work` returns a `JobDone` when
    it finished, None when it stopped for a cancel; it raises `JobFailed` (or ValidationError) for
    a failure it expects. Any other exception fails the job too, with a readable reason, and its
    traceback goes to the log. Returns the job, or None when it was not this caller's to run."""
    if not job_claim(model, job_id):
        return None
    job = model._default_manager.select_related("account", "created_by").get(pk=job_id)
    run = JobRun(model, job)
    try:
        done = work(run)
    except JobFailed as error:
        log.info("%s %s failed: %s", model.__name__, job_id, error.message)
        job_fail(job, message=error.message)
    except ValidationError as error:  # the job's input no longer applies (a deleted segment)
        job_fail(job, message=" ".join(error.messages))
    except Exception as error:
        log.exception("%s %s failed with an unexpected error", model.__name__, job_id)
        if not connection.in_atomic_block:
            # A dropped database connection raised it: the failure is written on a new one.
            connection.close_if_unusable_or_obsolete()
        job_fail(job, message=unexpected_message(error))
    else:
        if done is not None and job_finish(job, message=done.message):
            job_notify(job, message=done.notice, level=done.level)
    return job


def job_enqueue(task: Any, job: Job) -> None:
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
            type(job)._default_manager.filter(pk=job.pk, status=JobStatus.PENDING).update(message=QUEUE_DOWN)
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


def job_task_run(task: Any, model: type[Job], pk: int, work: Callable[..., object]) -> None:
    """What a job's Celery task does: skip a job another live worker is on, else call
    `work(job_id=pk)` while a thread beats the row's heartbeat."""
    model._default_manager.filter(pk=pk).exclude(task=task.name).update(task=task.name)
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
    row = model._default_manager.filter(pk=pk).values("status", "heartbeat_at").first()
    if row is None or row["status"] != JobStatus.RUNNING or row["heartbeat_at"] is None:
        return True  # pending or finished: the service's claim decides
    seen = row["heartbeat_at"]
    stale = dt.timedelta(seconds=settings.JOB_STALE_SECONDS)
    while timezone.now() < seen + stale:
        time.sleep(min(settings.JOB_HEARTBEAT_SECONDS, 1))
        now = model._default_manager.filter(pk=pk).values("status", "heartbeat_at").first()
        if now is None or now["status"] != JobStatus.RUNNING or now["heartbeat_at"] != seen:
            return False  # finished, cancelled or beating: someone else has it
    return bool(
        model._default_manager.filter(pk=pk, status=JobStatus.RUNNING, heartbeat_at=seen).update(
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
                model._default_manager.filter(pk=pk, status=JobStatus.RUNNING).update(
                    heartbeat_at=timezone.now()
                )
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
    message still unacknowledged: Redis would redeliver it only after the visibility timeout);
    one started JOB_MAX_ATTEMPTS times already gives up instead and says so. Returns how many
    were queued."""
    from audience.models import TaskOutbox

    cutoff = timezone.now() - dt.timedelta(seconds=settings.JOB_STALE_SECONDS)
    queued = 0
    for model in job_models():
        stale = model._default_manager.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff)
        for pk in stale.filter(attempts__gte=settings.JOB_MAX_ATTEMPTS).values_list("pk", flat=True)[:1000]:
            job_give_up(model, pk)
        stale = stale.filter(attempts__lt=settings.JOB_MAX_ATTEMPTS).exclude(task="")
        for pk, task_name in stale.values_list("pk", "task")[:1000]:
            log.warning("%s %s: its worker stopped beating; queued again", model.__name__, pk)
            row = TaskOutbox.objects.create(task_name=task_name, args=[pk])
            _send(row.pk)
            queued += 1
    return queued
