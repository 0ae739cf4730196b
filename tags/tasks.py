"""Celery tasks: each takes a job row's id and calls the plain function that does the work."""

from __future__ import annotations

from celery import shared_task

from tags import bulk


@shared_task(name="tags.tag_bulk_job_run_task")
def tag_bulk_job_run_task(job_id: int) -> None:
    bulk.tag_bulk_job_run(job_id=job_id)
