"""Celery tasks: each takes a row's id and calls the plain function that does the work
(through `job_task_run`, which beats the job's heartbeat and skips a job a live worker is on)."""

from __future__ import annotations

from celery import shared_task

from audience.jobs import job_task_run
from communications import services, webhooks
from communications.models import Broadcast, WebhookBatch


def _broadcast_run(*, job_id: int) -> None:
    services.broadcast_run(broadcast_id=job_id)


@shared_task(name="communications.broadcast_send_task", bind=True)
def broadcast_send_task(self, broadcast_id: int) -> None:
    job_task_run(self, Broadcast, broadcast_id, _broadcast_run)


@shared_task(name="communications.broadcast_hand_over_task")
def broadcast_hand_over_task(broadcast_id: int, after: int, upto: int) -> None:
    """One chunk's hand-over of a running broadcast, in whichever worker process is free
    (SEND_PROCESSES > 1): the chunks of one broadcast go out from several processes at once."""
    services.broadcast_hand_over_range(broadcast_id=broadcast_id, after=after, upto=upto)


def _webhook_batch_run(*, job_id: int) -> None:
    webhooks.webhook_batch_run(batch_id=job_id)


@shared_task(name="communications.webhook_batch_process_task", bind=True)
def webhook_batch_process_task(self, batch_id: int) -> None:
    job_task_run(self, WebhookBatch, batch_id, _webhook_batch_run)


@shared_task(name="communications.flow_runs_task")
def flow_runs_task() -> int:
    """Every minute (beat): execute the due runs of active flows (communications.flows), with
    SEND_PROCESSES - 1 helper tasks queued first, so that as many worker processes share them."""
    from communications import flows

    flows.flow_runs_fan_out()
    return flows.flow_runs_due()


@shared_task(name="communications.flow_runs_share_task")
def flow_runs_share_task() -> int:
    """A helper's share of a pass of the scheduler (SEND_PROCESSES > 1): it claims due runs
    alongside the beat task's process until none is left."""
    from communications import flows

    return flows.flow_runs_due()


@shared_task(name="communications.flow_entries_task")
def flow_entries_task() -> int:
    """Every five minutes (beat): people who start to match an active flow's entry segments or
    tags enter it."""
    from communications import flows

    return flows.flow_entries_refresh()


@shared_task(name="communications.handoff_purge_task")
def handoff_purge_task() -> int:
    """Every hour (beat): delete the emails' hand-off keys older than HANDOFF_RETENTION_DAYS."""
    return services.handoff_purge()
