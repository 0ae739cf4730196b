"""Celery tasks: each takes a job row's id and calls the plain function that does the work
(through `job_task_run`, which beats the job's heartbeat and skips a job a live worker is on)."""

from __future__ import annotations

from celery import shared_task

from audience.jobs import job_task_run
from imports import exports, services
from imports.models import ExportJob, ImportJob


@shared_task(name="imports.import_job_analyze_task", bind=True)
def import_job_analyze_task(self, job_id: int) -> None:
    job_task_run(self, ImportJob, job_id, services.import_job_analyze)


@shared_task(name="imports.import_job_run_task", bind=True)
def import_job_run_task(self, job_id: int) -> None:
    job_task_run(self, ImportJob, job_id, services.import_job_run)


@shared_task(name="imports.export_job_run_task", bind=True)
def export_job_run_task(self, job_id: int) -> None:
    job_task_run(self, ExportJob, job_id, exports.export_job_run)
