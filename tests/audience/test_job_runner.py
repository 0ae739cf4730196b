"""The job runner (`audience.jobs.job_run`): every kind of job always ends. An error in the middle
of its chunks fails it with a reason a person can read, tells its owner and leaves only what was
committed before the error; a job whose worker keeps dying gives up after JOB_MAX_ATTEMPTS starts.

The faults are real code failing under the job (a write that raises after it wrote, a database
connection dropped while reading), started through the screens' URLs."""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from audience import jobs
from audience.celery import app
from audience.models import Contact, Notification, Profile
from audience.selection import Selection
from communications import services as sending
from communications.backends import MemoryBackend
from communications.models import Broadcast, Message, MessageStatus
from dnc import exports as dnc_exports
from dnc import services as dnc_services
from dnc.models import DncEntry, Source
from imports import exports
from imports import runs as import_runs
from imports.models import ExportJob, ImportJob
from imports.targets.dnc import DncTarget
from imports.targets.people import PeopleTarget
from tags import bulk
from tags import services as tag_services
from tags.models import ProfileTag, Tag, TagBulkJob

UNEXPECTED = "Stopped by an unexpected error ("


@pytest.fixture(autouse=True)
def _media_and_temp(settings, tmp_path, monkeypatch):
    """Stored files and the jobs' temporary files each in a folder the tests can look into."""
    settings.MEDIA_ROOT = tmp_path / "media"
    (tmp_path / "temp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))


@pytest.fixture
def temp_dir(tmp_path):
    return tmp_path / "temp"


def failing_on_call(original, n: int, error: Exception, after: bool = True):
    """`original`, except that its n-th call raises `error` (after doing its work, by default:
    what it wrote must be rolled back)."""
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == n and not after:
            raise error
        result = original(*args, **kwargs)
        if len(calls) == n:
            raise error
        return result

    return wrapper


def assert_failed_and_told(model, pk: int, owner, title: str, reason: str) -> jobs.Job:
    """Failed (not running), with a readable reason on the row and in the owner's notification."""
    job = model.objects.get(pk=pk)
    assert job.status == jobs.JobStatus.FAILED and job.finished_at is not None
    assert job.message.startswith(UNEXPECTED + reason), job.message
    assert "worker's log" in job.message
    note = Notification.objects.get(user=owner, level="danger")
    assert note.message.startswith(f"{title} failed: {UNEXPECTED}{reason}"), note.message
    assert note.url == job.get_absolute_url()
    return job


def assert_page_says_it(client, teammate_client, outsider_client, url: str) -> None:
    """The job's page gives the reason to its owner and teammates; only the owner was notified."""
    for member in (client, teammate_client):
        page = member.get(url)
        assert page.status_code == 200 and UNEXPECTED in page.content.decode()
    assert Notification.objects.values("user").distinct().count() == 1  # the owner's, seen above
    assert outsider_client.get(url).status_code == 404


# --- Imports --------------------------------------------------------------------------------------

ROWS = 12
CHUNK = 5


def people_csv() -> bytes:
    lines = ["First name,Email"] + [f"P{i},p{i}@example.com" for i in range(ROWS)]
    return ("\n".join(lines) + "\n").encode()


def dnc_csv() -> bytes:
    return ("Contact\n" + "".join(f"+3859166{i:05d}\n" for i in range(ROWS))).encode()


def upload_and_analyze(client, account, kind: str, data: bytes) -> ImportJob:
    response = client.post(
        reverse("imports:new"), {"kind": kind, "file": SimpleUploadedFile(f"{kind}.csv", data)}
    )
    assert response.status_code == 302
    job = ImportJob.objects.get(account=account)
    fields = {f"field_{i}": field for i, field in enumerate(job.mapping)}
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert client.post(reverse("imports:map", args=[job.pk]), fields).status_code == 302
    return ImportJob.objects.get(pk=job.pk)


@pytest.mark.parametrize("kind, target", [("people", PeopleTarget), ("dnc", DncTarget)])
def test_it_fails_an_import_whose_chunk_raises_keeping_the_committed_prefix(
    owner_client, teammate_client, outsider_client, account, owner, monkeypatch, kind, target
):
    monkeypatch.setattr(import_runs, "CHUNK", CHUNK)
    job = upload_and_analyze(owner_client, account, kind, people_csv() if kind == "people" else dnc_csv())
    assert job.is_analyzed, job.message
    # The second chunk's rows are written, then the write fails: its transaction rolls back.
    monkeypatch.setattr(
        target, "import_chunk", failing_on_call(target.import_chunk, 2, RuntimeError("disk full"))
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = owner_client.post(
            reverse("imports:start", args=[job.pk]),
            {"type": "lead", "existing": "keep", "accounts": [account.pk]},
        )
    assert response.status_code == 302
    job = assert_failed_and_told(
        ImportJob, job.pk, owner, "The import of " + job.file_name, "RuntimeError: disk full"
    )
    assert job.rows_read == job.resume_row == job.created == CHUNK
    written = (
        Profile.objects.filter(account=account).count()
        if kind == "people"
        else DncEntry.objects.filter(accounts=account).count()
    )
    assert written == CHUNK  # the first chunk, nothing of the second
    assert_page_says_it(
        owner_client, teammate_client, outsider_client, reverse("imports:detail", args=[job.pk])
    )


def test_it_fails_an_analysis_that_raises_and_keeps_no_file_of_it(
    owner_client, teammate_client, outsider_client, account, owner, monkeypatch, settings, temp_dir
):
    monkeypatch.setattr(import_runs, "CHUNK", CHUNK)
    monkeypatch.setattr(
        PeopleTarget, "classify", failing_on_call(PeopleTarget.classify, 2, ValueError("bad state"))
    )
    job = upload_and_analyze(owner_client, account, "people", people_csv())
    job = assert_failed_and_told(
        ImportJob, job.pk, owner, "The analysis of people.csv", "ValueError: bad state"
    )
    assert not job.is_analyzed and job.rejected_path == "" and job.analysis == {}
    folder = settings.MEDIA_ROOT / os.path.dirname(job.file_path)
    assert os.listdir(folder) == [os.path.basename(job.file_path)]  # no rejected rows, no parsed rows
    assert os.listdir(temp_dir) == []  # its temporary files are gone too
    assert owner_client.get(reverse("imports:rejected", args=[job.pk])).status_code == 404
    assert_page_says_it(
        owner_client, teammate_client, outsider_client, reverse("imports:detail", args=[job.pk])
    )


# --- Exports --------------------------------------------------------------------------------------


@pytest.fixture
def connection_dropped_on_second_batch(monkeypatch):
    """The database connection drops while the export reads its second batch."""
    monkeypatch.setattr(exports, "BATCH", CHUNK)
    original = exports._keyset

    def dropping(queryset, fields):
        for index, rows in enumerate(original(queryset, fields)):
            if index == 1:
                raise OperationalError("server closed the connection unexpectedly")
            yield rows

    monkeypatch.setattr(exports, "_keyset", dropping)
    # The Do Not Contact export reads through the screen's own rows (dnc.exports.entries_rows).
    monkeypatch.setattr(dnc_exports, "CHUNK", CHUNK)
    original_entries = dnc_exports.entries_rows

    def dropping_entries(queryset, **kwargs):
        for index, rows in enumerate(original_entries(queryset, **kwargs)):
            if index == 1:
                raise OperationalError("server closed the connection unexpectedly")
            yield rows

    monkeypatch.setattr(dnc_exports, "entries_rows", dropping_entries)


def assert_no_export_file(job: ExportJob, settings, temp_dir, client) -> None:
    assert job.file_path == ""
    assert not (settings.MEDIA_ROOT / "exports").exists()
    assert os.listdir(temp_dir) == []
    assert client.get(reverse("imports:export_download", args=[job.pk])).status_code == 404


def test_it_fails_a_people_export_whose_reads_fail_and_exposes_no_file(
    owner_client,
    teammate_client,
    outsider_client,
    account,
    owner,
    settings,
    temp_dir,
    connection_dropped_on_second_batch,
):
    Profile.objects.bulk_create([Profile(account=account, first_name=f"P{i}") for i in range(ROWS)])
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = owner_client.post(
            reverse("imports:export_people"), {"all": "1", "query": "", "format": "xlsx"}
        )
    assert response.status_code == 302
    job = ExportJob.objects.get(account=account)
    assert_failed_and_told(
        ExportJob,
        job.pk,
        owner,
        "Your People export",
        "OperationalError: server closed the connection unexpectedly",
    )
    assert_no_export_file(ExportJob.objects.get(pk=job.pk), settings, temp_dir, owner_client)
    assert_page_says_it(
        owner_client, teammate_client, outsider_client, reverse("imports:export_detail", args=[job.pk])
    )


def test_it_fails_a_do_not_contact_export_whose_reads_fail_and_exposes_no_file(
    owner_client,
    teammate_client,
    outsider_client,
    account,
    owner,
    settings,
    temp_dir,
    connection_dropped_on_second_batch,
):
    dnc_services.dnc_entries_add(
        accounts=[account],
        entries=[{"contact": f"+3859177{i:05d}", "channel": "", "sender": ""} for i in range(ROWS)],
        source=Source.CUSTOM,
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        owner_client.post(reverse("imports:export_dnc"), {"query": ""})
    job = ExportJob.objects.get(account=account)
    assert_failed_and_told(
        ExportJob,
        job.pk,
        owner,
        "Your Do Not Contact export",
        "OperationalError: server closed the connection unexpectedly",
    )
    assert_no_export_file(ExportJob.objects.get(pk=job.pk), settings, temp_dir, owner_client)
    assert_page_says_it(
        owner_client, teammate_client, outsider_client, reverse("imports:export_detail", args=[job.pk])
    )


# --- Bulk tag changes -----------------------------------------------------------------------------


def test_it_fails_a_bulk_tag_change_whose_chunk_raises_keeping_the_committed_prefix(
    owner_client, teammate_client, outsider_client, account, owner, settings, monkeypatch
):
    settings.BULK_SYNC_LIMIT = 3
    monkeypatch.setattr(bulk, "CHUNK", CHUNK)
    people = Profile.objects.bulk_create([Profile(account=account, first_name=f"P{i}") for i in range(ROWS)])
    monkeypatch.setattr(
        tag_services, "links_insert", failing_on_call(tag_services.links_insert, 2, RuntimeError("disk full"))
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = owner_client.post("/tags/bulk/", {"all": "1", "query": "", "new": "VIP", "apply": "1"})
    job = TagBulkJob.objects.get(account=account)
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    job = assert_failed_and_told(TagBulkJob, job.pk, owner, "The bulk tag change", "RuntimeError: disk full")
    first_chunk = sorted(p.pk for p in people)[:CHUNK]
    assert (job.processed, job.added, job.last_profile_id) == (CHUNK, CHUNK, first_chunk[-1])
    vip = Tag.objects.get(account=account, name="VIP")
    assert sorted(ProfileTag.objects.filter(tag=vip).values_list("profile_id", flat=True)) == first_chunk
    assert_page_says_it(owner_client, teammate_client, outsider_client, job.get_absolute_url())


# --- Broadcasts -----------------------------------------------------------------------------------


@pytest.fixture
def recipients(account, settings, monkeypatch):
    settings.COMMUNICATIONS_BACKEND = "communications.backends.MemoryBackend"
    MemoryBackend.reset()
    monkeypatch.setattr(sending, "SEND_CHUNK", 2)
    people = Profile.objects.bulk_create([Profile(account=account, first_name=f"P{i}") for i in range(5)])
    Contact.objects.bulk_create(
        [
            Contact(account=account, profile=p, kind="phone", value=f"+38591000{i:04d}")
            for i, p in enumerate(people)
        ]
    )
    yield sorted(p.pk for p in people)
    MemoryBackend.reset()


def queued_broadcast(account, recipients: list[int]) -> Broadcast:
    return sending.broadcast_create(
        account=account,
        user=None,
        name="Spring sale",
        channel="SMS",
        sender="",
        text="20% off",
        audience=sending.AudienceSpec(selections=[Selection(ids=recipients)]),
    )


def test_it_fails_a_broadcast_whose_chunk_raises_with_no_message_left_in_flight(
    owner_client, teammate_client, outsider_client, account, owner, recipients, monkeypatch
):
    broadcast = queued_broadcast(account, recipients)
    # The second chunk's message rows are written, then the write fails: they roll back.
    monkeypatch.setattr(
        sending,
        "_messages_insert",
        failing_on_call(sending._messages_insert, 2, RuntimeError("disk full")),
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        owner_client.post(reverse("communications:broadcast_send", args=[broadcast.pk]))
    broadcast = assert_failed_and_told(
        Broadcast, broadcast.pk, owner, "Broadcast “Spring sale”", "RuntimeError: disk full"
    )
    messages = Message.objects.filter(broadcast=broadcast)
    assert sorted(messages.values_list("profile_id", flat=True)) == recipients[:2]
    assert set(messages.values_list("status", flat=True)) == {MessageStatus.SENT}  # none in flight
    assert (broadcast.processed, broadcast.sent, broadcast.cursor) == (2, 2, recipients[1])
    assert [m.profile_id for m in MemoryBackend.outbox] == recipients[:2]
    assert_page_says_it(owner_client, teammate_client, outsider_client, broadcast.get_absolute_url())


def test_a_broadcast_cancelled_in_the_middle_stops_after_its_chunk(account, owner, recipients, monkeypatch):
    broadcast = queued_broadcast(account, recipients)
    original = sending._broadcast_chunk

    def cancelled_meanwhile(broadcast, ids):
        original(broadcast, ids)
        jobs.job_cancel(job=broadcast)

    monkeypatch.setattr(sending, "_broadcast_chunk", cancelled_meanwhile)
    with TestCase.captureOnCommitCallbacks(execute=True):
        sending.broadcast_send(broadcast=broadcast, user=owner)
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.message) == (jobs.JobStatus.CANCELLED, "Cancelled.")
    assert broadcast.messages.count() == 2 and broadcast.sent == 2
    assert not Notification.objects.filter(user=owner).exists()


# --- The runner itself ----------------------------------------------------------------------------


def test_an_unexpected_error_leaves_its_traceback_in_the_log(account, owner, settings, monkeypatch, caplog):
    settings.BULK_SYNC_LIMIT = 0
    Profile.objects.create(account=account, first_name="Ana")
    vip = tag_services.tag_create(account=account, name="VIP")
    job = bulk.tag_bulk_change(account=account, user=owner, selection=Selection(), add=[vip], remove=[]).job
    monkeypatch.setattr(
        tag_services, "links_insert", failing_on_call(tag_services.links_insert, 1, KeyError("x"))
    )
    with caplog.at_level(logging.ERROR, logger="audience.jobs"):
        bulk.tag_bulk_job_run(job_id=job.pk)
    (record,) = [r for r in caplog.records if r.name == "audience.jobs"]
    assert record.exc_info and record.exc_info[0] is KeyError
    assert f"TagBulkJob {job.pk} failed" in record.getMessage()
    assert TagBulkJob.objects.get(pk=job.pk).message.startswith(UNEXPECTED + "KeyError: 'x'")


def test_a_job_whose_worker_dies_each_time_gives_up_after_the_cap(account, owner, settings, monkeypatch):
    """Killed in its first chunk three times (SystemExit is not an Exception: the job stays
    running, as when the process is killed); the fourth delivery gives up and says so."""
    settings.BULK_SYNC_LIMIT, settings.JOB_MAX_ATTEMPTS = 0, 3
    Profile.objects.create(account=account, first_name="Ana")
    vip = tag_services.tag_create(account=account, name="VIP")
    job = bulk.tag_bulk_change(account=account, user=owner, selection=Selection(), add=[vip], remove=[]).job

    def killed(**kwargs):
        raise SystemExit("killed")

    monkeypatch.setattr(tag_services, "links_insert", killed)
    for attempt in (1, 2, 3):
        with pytest.raises(SystemExit):
            bulk.tag_bulk_job_run(job_id=job.pk)
        job.refresh_from_db()
        assert (job.status, job.attempts) == (jobs.JobStatus.RUNNING, attempt)
    assert bulk.tag_bulk_job_run(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.status == jobs.JobStatus.FAILED and job.message == jobs.gave_up_message(3)
    assert job.message.startswith("Gave up after 3 attempts")
    note = Notification.objects.get(user=owner)
    assert note.level == "danger" and note.message == f"The bulk tag change failed: {job.message}"
    assert not ProfileTag.objects.exists()


def test_stale_requeue_queues_a_job_again_until_the_cap_then_gives_up(account, owner, settings, monkeypatch):
    settings.JOB_MAX_ATTEMPTS = 3
    app.conf.task_always_eager = False  # the autouse fixture in conftest turns it back on
    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, args, **kw: sent.append((name, args)))
    silent = timezone.now() - dt.timedelta(seconds=settings.JOB_STALE_SECONDS + 1)

    def stale_job(attempts: int) -> TagBulkJob:
        return TagBulkJob.objects.create(
            account=account,
            created_by=owner,
            selection={"ids": []},
            action="add",
            status=jobs.JobStatus.RUNNING,
            heartbeat_at=silent,
            task="tags.tag_bulk_job_run_task",
            attempts=attempts,
        )

    again, spent = stale_job(2), stale_job(3)
    assert jobs.job_stale_requeue() == 1
    assert sent == [("tags.tag_bulk_job_run_task", [again.pk])]
    again.refresh_from_db()
    spent.refresh_from_db()
    assert again.status == jobs.JobStatus.RUNNING
    assert spent.status == jobs.JobStatus.FAILED and spent.message.startswith("Gave up after 3 attempts")
    assert Notification.objects.get(user=owner).message.startswith("The bulk tag change failed: Gave up")
    # Given up, it is never queued again.
    assert jobs.job_stale_requeue() == 1 and len(sent) == 2
    assert Notification.objects.filter(user=owner).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_database_session_is_ended_still_ends(account, owner, settings, monkeypatch):
    """PostgreSQL ends the worker's session while an export reads its rows (a restart, an
    administrator's pg_terminate_backend; outside any transaction, which would drop the broken
    connection itself): the failure is written over a new connection."""
    if not settings.IS_POSTGRES:
        pytest.skip("ends a PostgreSQL session")
    from django.db import connection, connections

    monkeypatch.setattr(exports, "BATCH", CHUNK)
    dnc_services.dnc_entries_add(
        accounts=[account],
        entries=[{"contact": f"+3859177{i:05d}", "channel": "", "sender": ""} for i in range(ROWS)],
        source=Source.CUSTOM,
    )
    monkeypatch.setattr(dnc_exports, "CHUNK", CHUNK)
    original = dnc_exports.entries_rows

    def session_ended(queryset, **kwargs):
        for index, rows in enumerate(original(queryset, **kwargs)):
            yield rows
            if index == 0:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    (pid,) = cursor.fetchone()
                admin = connections.create_connection("default")
                try:
                    with admin.cursor() as cursor:
                        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
                finally:
                    admin.close()

    monkeypatch.setattr(dnc_exports, "entries_rows", session_ended)
    # No transaction around the test: the job is queued, and run here, as it is created.
    job = exports.export_job_create(account=account, user=owner, kind="dnc", format="csv")
    job = ExportJob.objects.get(pk=job.pk)
    assert job.status == jobs.JobStatus.FAILED and job.message.startswith(UNEXPECTED), job.message
    assert job.file_path == "" and not (settings.MEDIA_ROOT / "exports").exists()
    assert Notification.objects.get(user=owner).level == "danger"
