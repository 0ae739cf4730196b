"""Redis down when a marketer starts an import: the job is kept, the page says it will start when
the queue is back, and once it is back the outbox sends it and a real worker finishes it."""

from __future__ import annotations

import html

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audience.jobs import QUEUE_DOWN, JobStatus, task_outbox_flush
from audience.models import Profile, TaskOutbox
from imports.models import ImportJob
from tests.faults.conftest import broker_use, redis_url
from tests.faults.test_worker_killed import ROWS, fresh, people_csv, wait_done

CLOSED = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def test_an_import_started_while_redis_is_down_is_kept_and_runs_when_it_is_back(
    start_worker, teammate_client, account
):
    broker_use(CLOSED)
    upload = SimpleUploadedFile("people.csv", people_csv())
    response = teammate_client.post(reverse("imports:new"), {"kind": "people", "file": upload})
    job = ImportJob.objects.get(account=account)
    fields = {f"field_{i}": field for i, field in enumerate(job.mapping)}
    response = teammate_client.post(reverse("imports:map", args=[job.pk]), fields, follow=True)
    assert response.status_code == 200
    assert QUEUE_DOWN in html.unescape(response.content.decode())
    job = fresh(ImportJob, job.pk)
    assert (job.status, job.message) == (JobStatus.PENDING, QUEUE_DOWN)
    outbox = TaskOutbox.objects.get()
    assert outbox.args == [job.pk] and outbox.attempts == 1

    broker_use(redis_url())  # the queue is back
    worker = start_worker()
    assert task_outbox_flush(older_than_seconds=0) == 1
    job = wait_done(worker, ImportJob, job.pk)
    assert job.is_analyzed and job.message != QUEUE_DOWN
    assert not TaskOutbox.objects.exists()
    page = teammate_client.get(reverse("imports:detail", args=[job.pk]))
    assert QUEUE_DOWN not in html.unescape(page.content.decode())
    response = teammate_client.post(
        reverse("imports:start", args=[job.pk]), {"type": "lead", "existing": "keep"}
    )
    assert response.status_code == 302
    job = wait_done(worker, ImportJob, job.pk)
    assert (job.status, job.created, job.processed) == (JobStatus.DONE, ROWS, ROWS)
    assert Profile.objects.filter(account=account).count() == ROWS
