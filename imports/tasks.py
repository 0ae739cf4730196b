"""Celery tasks: each takes a job row's id and calls the plain function that does the work
(through `job_task_run`, which beats the job's heartbeat and skips a job a live worker is on)."""

from __future__ import annotations

from celery import shared_task

from audience import replicas
from audience.jobs import job_task_run
from imports import exports, services
from imports.models import ExportJob, ImportJob


@shared_task(name="imports.import_job_analyze_task", bind=True)
def import_job_analyze_task(self, job_id: int) -> None:
    job_task_run(self, ImportJob, job_id, services.import_job_analyze)


@shared_task(name="imports.import_job_run_task", bind=True)
def import_job_run_task(self, job_id: int) -> None:
    job_task_run(self, ImportJob, job_id, services.import_job_run)


def _export_job_run(*, job_id: int) -> ExportJob | None:
    """An export reads a replica that holds everything committed before it began, when one is
    configured (`replicas.job_reads`); its progress, file and end are written on the primary."""
    with replicas.job_reads():
        return exports.export_job_run(job_id=job_id)


@shared_task(name="imports.export_job_run_task", bind=True)
def export_job_run_task(self, job_id: int) -> None:
    job_task_run(self, ExportJob, job_id, _export_job_run)
