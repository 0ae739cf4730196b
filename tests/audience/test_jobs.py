from __future__ import annotations

import pytest
from kombu.exceptions import OperationalError

from audience import jobs
from audience.celery import app
from audience.models import TaskOutbox
from tags.models import TagBulkJob
from tags.tasks import tag_bulk_job_run_task


@pytest.fixture
def job(account, owner):
    return TagBulkJob.objects.create(account=account, created_by=owner, selection={"ids": []}, action="add")


@pytest.fixture
def broker_down(monkeypatch):
    app.conf.task_always_eager = False  # the autouse fixture in conftest turns it back on

    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(app, "send_task", refuse)


def test_a_job_queued_while_the_broker_is_down_is_kept_and_says_so(
    django_capture_on_commit_callbacks, job, broker_down
):
    with django_capture_on_commit_callbacks(execute=True):
        jobs.job_enqueue(tag_bulk_job_run_task, job)
    job.refresh_from_db()
    assert job.status == jobs.JobStatus.PENDING
    assert job.message == jobs.QUEUE_DOWN
    row = TaskOutbox.objects.get()
    assert row.args == [job.pk] and row.attempts == 1 and "Connection refused" in row.last_error


def test_the_outbox_sends_it_when_the_broker_is_back(
    django_capture_on_commit_callbacks, job, broker_down, monkeypatch
):
    with django_capture_on_commit_callbacks(execute=True):
        jobs.job_enqueue(tag_bulk_job_run_task, job)
    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, args, **kw: sent.append((name, args)))
    assert jobs.task_outbox_flush(older_than_seconds=0) == 1
    assert sent == [(tag_bulk_job_run_task.name, [job.pk])]
    assert not TaskOutbox.objects.exists()
    # When the worker claims it, the "queue is down" message goes.
    assert jobs.job_claim(TagBulkJob, job.pk)
    job.refresh_from_db()
    assert job.message == "" and job.status == jobs.JobStatus.RUNNING


def test_a_healthy_broker_leaves_nothing_in_the_outbox(django_capture_on_commit_callbacks, job, monkeypatch):
    app.conf.task_always_eager = False  # the autouse fixture in conftest turns it back on
    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, args, **kw: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        jobs.job_enqueue(tag_bulk_job_run_task, job)
    assert sent == [[job.pk]] and not TaskOutbox.objects.exists()
