"""Celery tasks: each takes a job row's id and calls the plain function that does the work."""

from __future__ import annotations

from celery import shared_task

from imports import exports, services


@shared_task(name="imports.import_job_analyze_task")
def import_job_analyze_task(job_id: int) -> None:
    services.import_job_analyze(job_id=job_id)


@shared_task(name="imports.import_job_run_task")
def import_job_run_task(job_id: int) -> None:
    services.import_job_run(job_id=job_id)


@shared_task(name="imports.export_job_run_task")
def export_job_run_task(job_id: int) -> None:
    exports.export_job_run(job_id=job_id)
