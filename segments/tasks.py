from __future__ import annotations

from celery import shared_task

from segments import services


@shared_task(name="segments.segment_sizes_record_task")
def segment_sizes_record_task() -> int:
    return services.segment_sizes_record()
