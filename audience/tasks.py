from __future__ import annotations

from celery import shared_task

from audience import jobs


@shared_task(name="audience.task_outbox_flush_task")
def task_outbox_flush_task() -> int:
    return jobs.task_outbox_flush()


@shared_task(name="audience.job_stale_requeue_task")
def job_stale_requeue_task() -> int:
    return jobs.job_stale_requeue()
