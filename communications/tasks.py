"""Celery tasks: each takes a row's id and calls the plain function that does the work."""

from __future__ import annotations

from celery import shared_task

from communications import services


@shared_task(name="communications.broadcast_send_task")
def broadcast_send_task(broadcast_id: int) -> None:
    services.broadcast_run(broadcast_id=broadcast_id)
