"""The emails' hand-off keys (HandOff) do not grow without end: a periodic task deletes the ones
older than HANDOFF_RETENTION_DAYS, in batches."""

from __future__ import annotations

import datetime as dt

from django.conf import settings as django_settings
from django.utils import timezone

from audience.celery import app
from communications import services, tasks
from communications.models import HandOff


def keys(days_old: list[float]) -> None:
    now = timezone.now()
    HandOff.objects.bulk_create(
        [HandOff(key=f"1:{i}", created_at=now - dt.timedelta(days=age)) for i, age in enumerate(days_old)]
    )


def test_it_deletes_the_keys_older_than_the_retention_in_batches(db, settings):
    settings.HANDOFF_RETENTION_DAYS = 30
    keys([31, 45, 400, 30.5, 29, 1, 0])
    assert services.handoff_purge(batch=2) == 4  # two deletes of two rows, then a look that finds none
    assert sorted(HandOff.objects.values_list("key", flat=True)) == ["1:4", "1:5", "1:6"]
    assert services.handoff_purge(batch=2) == 0


def test_the_retention_is_a_setting(db, settings):
    settings.HANDOFF_RETENTION_DAYS = 2
    keys([3, 1])
    assert tasks.handoff_purge_task.apply().get() == 1
    assert list(HandOff.objects.values_list("key", flat=True)) == ["1:1"]


def test_the_purge_runs_every_hour_from_the_beat_schedule():
    (entry,) = [
        e
        for e in django_settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "communications.handoff_purge_task"
    ]
    assert entry["schedule"] == 60 * 60
    assert "communications.handoff_purge_task" in app.tasks


def test_it_reads_the_old_keys_through_the_created_at_index(db, settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    settings.HANDOFF_RETENTION_DAYS = 30
    now = timezone.now()
    HandOff.objects.bulk_create(
        [HandOff(key=f"2:{i}", created_at=now - dt.timedelta(minutes=i)) for i in range(20_000)]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE communications_handoff")
    cutoff = now - dt.timedelta(days=30)
    plan = (
        HandOff.objects.filter(created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk")[:10_000]
        .explain()
    )
    assert "handoff_created" in plan
