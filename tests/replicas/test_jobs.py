"""Background jobs on a real hot standby (tests/replicas/conftest.py): an export (its COPY
statements too, on parallel threads), a broadcast's recipients and the people a flow enrols are
read on the standby and come out as they do from the primary; their writes go to the primary; with
replay paused, a write made just before the job is in what it reads (the job reads the primary
then)."""

from __future__ import annotations

import csv
import io
import threading
import zipfile

import psycopg
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audience import replicas, services
from audience.models import Contact
from communications import selectors
from communications import services as communications_services
from communications.backends import MemoryBackend
from communications.models import Broadcast, Message
from dnc import services as dnc_services
from dnc.models import DncEntry, DncEntryAccount, Source
from imports.exports import postgres
from imports.models import ExportJob
from tests.factories import ProfileFactory
from tests.replicas.conftest import replayed

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not (settings.IS_POSTGRES and replicas.aliases(mirrors=True)),
        reason="needs PostgreSQL and DATABASE_REPLICA_URLS (a standby: bin/standby-start)",
    ),
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

WRITES = {"INSERT", "UPDATE", "DELETE"}


@pytest.fixture(autouse=True)
def memory_backend(settings):
    settings.COMMUNICATIONS_BACKEND = "communications.backends.MemoryBackend"
    MemoryBackend.reset()
    yield MemoryBackend
    MemoryBackend.reset()


@pytest.fixture
def zagreb(account, other_account):
    for n, profile in enumerate(ProfileFactory.create_batch(4, account=account, city="Zagreb")):
        Contact.objects.create(account=account, profile=profile, kind="phone", value=f"+38591000000{n}")
    ProfileFactory.create_batch(2, account=account, city="Split")
    ProfileFactory.create_batch(2, account=other_account, city="Zagreb")
    _block([account], "+385910000000", "SMS")
    return account


def _block(accounts, contact: str, channel: str = "") -> None:
    report = dnc_services.dnc_entries_add(
        accounts=accounts,
        entries=[{"contact": contact, "channel": channel, "sender": ""}],
        source=Source.CUSTOM,
    )
    assert not report.rejected, report.rejected


def _reads(captured: CaptureQueriesContext, table: str) -> list[str]:
    return [
        q["sql"]
        for q in captured.captured_queries
        if f'"{table}"' in q["sql"] and q["sql"].split()[0] not in WRITES
    ]


def _writes(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if q["sql"].split()[0] in WRITES]


def _export(client, url: str, data: dict) -> ExportJob:
    """An export asked for through its screen; the task runs in the request (eager Celery)."""
    before = set(ExportJob.objects.values_list("pk", flat=True))
    response = client.post(url, data)
    assert response.status_code == 302
    job = ExportJob.objects.exclude(pk__in=before).get()
    assert job.status == "done", job.message
    return job


def _rows(job: ExportJob) -> list[list[str]]:
    return list(csv.reader(io.StringIO(default_storage.open(job.file_path).read().decode("utf-8-sig"))))


def _on_primary(function, *args):
    """The same call with every read on the primary (an outer choice stands for nested reads)."""
    with replicas.replica_reads(account_id=None, primary=True):
        return function(*args)


PEOPLE = {"all": "1", "query": "city=Zagreb", "format": "csv"}


def test_a_people_export_reads_the_standby_and_gives_the_primarys_rows(
    standby, observe, zagreb, owner_client
):
    replayed(observe)
    url = reverse("imports:export_people")
    with CaptureQueriesContext(connections[standby]) as on_standby:
        job = _export(owner_client, url, PEOPLE)
    # The selection's size (the job's total) is read on the standby; nothing is written there.
    assert any("COUNT(" in sql for sql in _reads(on_standby, "audience_profile"))
    assert not _writes(on_standby)
    assert job.total == job.processed == 4
    rows = _rows(job)
    assert len(rows) == 5 and {row[8] for row in rows[1:]} == {"Zagreb"}
    assert rows == _rows(_on_primary(_export, owner_client, url, PEOPLE))


def test_a_dnc_export_reads_its_rows_on_the_standby(standby, observe, zagreb, owner_client):
    _block([zagreb], "ana@example.com", "EMAIL")
    replayed(observe)
    url, data = reverse("imports:export_dnc"), {"query": "", "format": "csv"}
    with CaptureQueriesContext(connections[standby]) as on_standby:
        job = _export(owner_client, url, data)
    entries = _reads(on_standby, DncEntryAccount._meta.db_table)
    assert len(entries) >= 2  # the count and the rows
    assert not _writes(on_standby)
    rows = _rows(job)
    assert len(rows) >= 3 and "ana@example.com" in {cell for row in rows for cell in row}
    assert rows == _rows(_on_primary(_export, owner_client, url, data))
    # The app's connection of that alias is a backend of the standby, in recovery.
    pid = connections[standby].connection.info.backend_pid
    seen = observe["standby"].execute(
        "SELECT pg_is_in_recovery() FROM pg_stat_activity WHERE pid = %s", [pid]
    )
    assert seen.fetchone() == (True,)


def test_an_export_reads_the_primary_when_the_standby_has_not_replayed_a_fresh_write(
    standby, observe, zagreb, owner_client, monkeypatch, copies
):
    monkeypatch.setattr(replicas, "JOB_WAIT_SECONDS", 0.3)
    replayed(observe)
    observe["standby"].execute("SELECT pg_wal_replay_pause()")
    services.profile_create(account=zagreb, fields={"city": "Zagreb", "first_name": "Freshly"})
    with CaptureQueriesContext(connections[standby]) as on_standby:
        job = _export(owner_client, reverse("imports:export_people"), PEOPLE)
    assert not _reads(on_standby, "audience_profile")
    assert [port for port, _ in copies] == [_port("default")] * 2  # two ranges, both on the primary
    assert job.total == 5
    assert "Freshly" in {row[3] for row in _rows(job)}


def _port(alias: str) -> int:
    return int(connections[alias].settings_dict["PORT"] or 5432)


@pytest.fixture
def copies(monkeypatch, settings) -> list[tuple[int, bool]]:
    """(the server's port, on a thread of its own) of each COPY statement an export runs (raw
    psycopg COPYs, which CaptureQueriesContext does not see); people exports of two COPY ranges
    (every 3 ids) read on two threads."""
    seen: list[tuple[int, bool]] = []
    copy = psycopg.Cursor.copy

    def watched(cursor, statement, *args, **kwargs):
        seen.append((cursor.connection.info.port, threading.current_thread() is not threading.main_thread()))
        return copy(cursor, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", watched)
    monkeypatch.setattr(postgres, "COPY_RANGE", 3)
    settings.EXPORT_COPY_STREAMS = 2
    return seen


def _sheet(job: ExportJob) -> bytes:
    with default_storage.open(job.file_path) as handle, zipfile.ZipFile(handle) as book:
        return book.read("xl/worksheets/sheet1.xml")


def test_a_people_csv_exports_copy_ranges_run_on_the_standby_on_parallel_threads(
    standby, observe, zagreb, owner_client, copies
):
    replayed(observe)
    url = reverse("imports:export_people")
    with CaptureQueriesContext(connections[standby]) as on_standby:
        job = _export(owner_client, url, PEOPLE)
    # The ranges' bounds on the app's connection of the standby, then one COPY a range, each on
    # a thread's own connection of the standby.
    assert any("row_number()" in sql for sql in _reads(on_standby, "audience_profile"))
    assert copies == [(_port(standby), True)] * 2
    assert not _writes(on_standby)
    rows = _rows(job)
    assert len(rows) == 5
    copies.clear()
    assert rows == _rows(_on_primary(_export, owner_client, url, PEOPLE))
    assert copies == [(_port("default"), True)] * 2


def test_a_people_xlsx_export_copies_its_rows_from_the_standby(
    standby, observe, zagreb, owner_client, copies
):
    replayed(observe)
    url, data = reverse("imports:export_people"), {**PEOPLE, "format": "xlsx"}
    job = _export(owner_client, url, data)
    assert copies and {port for port, _ in copies} == {_port(standby)}
    assert job.total == job.processed == 4
    copies.clear()
    assert _sheet(job) == _sheet(_on_primary(_export, owner_client, url, data))
    assert copies and {port for port, _ in copies} == {_port("default")}


def _broadcast(account, user) -> Broadcast:
    from audience.selection import Selection

    return communications_services.broadcast_create(
        account=account,
        user=user,
        name="Zagreb",
        channel="SMS",
        sender="",
        text="Hello",
        audience=communications_services.AudienceSpec(selections=[Selection(filters={"city": ["Zagreb"]})]),
    )


def test_a_broadcasts_recipients_are_read_on_the_standby(standby, observe, zagreb, owner, owner_client):
    broadcast = _broadcast(zagreb, owner)
    expected = set(selectors.broadcast_recipients(broadcast=broadcast).values_list("pk", flat=True))
    replayed(observe)
    with CaptureQueriesContext(connections[standby]) as on_standby:
        response = owner_client.post(reverse("communications:broadcast_send", args=[broadcast.pk]))
    assert response.status_code == 302
    broadcast.refresh_from_db()
    assert broadcast.status == "done", broadcast.message
    # The recipients' count and their keyset chunks of ids on the standby; nothing written there.
    profile_reads = _reads(on_standby, "audience_profile")
    assert any("COUNT(" in sql for sql in profile_reads)
    chunks = [sql for sql in profile_reads if '"audience_profile"."id" >' in sql and "LIMIT 1000" in sql]
    assert len(chunks) == 2  # the recipients, then none after the last one
    assert not _writes(on_standby)
    # Destinations and Do Not Contact are read on the primary, as the messages are written there.
    assert not _reads(on_standby, DncEntry._meta.db_table)
    messages = dict(Message.objects.filter(broadcast=broadcast).values_list("profile_id", "status"))
    assert set(messages) == expected and len(expected) == 4
    assert sorted(messages.values()) == ["blocked_dnc", "sent", "sent", "sent"]
    assert (broadcast.total, broadcast.sent, broadcast.blocked_dnc) == (4, 3, 1)


def test_a_broadcast_reads_the_primary_when_the_standby_has_not_replayed_its_audience(
    standby, observe, zagreb, owner, owner_client, monkeypatch
):
    monkeypatch.setattr(replicas, "JOB_WAIT_SECONDS", 0.3)
    replayed(observe)
    observe["standby"].execute("SELECT pg_wal_replay_pause()")
    fresh = services.profile_create(account=zagreb, fields={"city": "Zagreb"})
    broadcast = _broadcast(zagreb, owner)  # not on the standby either
    with CaptureQueriesContext(connections[standby]) as on_standby:
        owner_client.post(reverse("communications:broadcast_send", args=[broadcast.pk]))
    assert not _reads(on_standby, "audience_profile")
    broadcast.refresh_from_db()
    assert broadcast.status == "done" and broadcast.total == 5
    assert Message.objects.filter(broadcast=broadcast, profile=fresh, status="no_destination").exists()
