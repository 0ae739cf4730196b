"""Celery tasks: each takes a job row's id and calls the plain function that does the work."""

from __future__ import annotations

from celery import shared_task

from audience.jobs import job_task_run
from dnc import bulk
from dnc.models import DncRemoveJob


@shared_task(name="dnc.dnc_remove_job_run_task", bind=True)
def dnc_remove_job_run_task(self, job_id: int) -> None:
    job_task_run(self, DncRemoveJob, job_id, bulk.dnc_remove_job_run)
