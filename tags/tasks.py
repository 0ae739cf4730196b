"""Celery tasks: each takes a job row's id and calls the plain function that does the work
(through `job_task_run`, which beats the job's heartbeat and skips a job a live worker is on)."""

from __future__ import annotations

from celery import shared_task

from audience.jobs import job_task_run
from tags import bulk
from tags.models import TagBulkJob


@shared_task(name="tags.tag_bulk_job_run_task", bind=True)
def tag_bulk_job_run_task(self, job_id: int) -> None:
    job_task_run(self, TagBulkJob, job_id, bulk.tag_bulk_job_run)
