"""SIGKILL in the middle of an import, an export, a bulk tag change and a broadcast: the job
finishes on retry with exact counts and nothing written twice."""

from __future__ import annotations

import io
from collections import Counter

from django.core.files.storage import default_storage
from python_calamine import CalamineWorkbook

from audience.jobs import JobStatus
from audience.models import Contact, Profile
from audience.selection import Selection
from communications import services as sending
from communications.models import Broadcast, Message, MessageStatus
from dnc.models import DncEntry, Source
from imports import exports, services
from imports.models import ExportJob, ImportJob
from tags import bulk
from tags import services as tag_services
from tags.models import ProfileTag, TagBulkJob
from tests.faults.conftest import wait_for

ROWS = 300


def people_csv(n: int = ROWS) -> bytes:
    lines = ["Email,Phone,First name,City"]
    lines += [f"p{i}@example.com,+3859155{i:05d},Name{i},City{i % 7}" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


def dnc_csv(n: int = ROWS, prefix: str = "+3859166") -> bytes:
    return ("Contact\n" + "".join(f"{prefix}{i:05d}\n" for i in range(n))).encode()


def upload(account, user, data: bytes, kind: str = "people") -> ImportJob:
    return services.import_job_create(
        account=account, user=user, kind=kind, name=f"{kind}.csv", stream=io.BytesIO(data), size=len(data)
    )


def options_for(job: ImportJob) -> dict:
    return {"accounts": [job.account_id]} if job.kind == "dnc" else {}


def fresh(model, pk: int):
    return model.objects.get(pk=pk)


def kill_mid_job(worker, model, pk: int) -> None:
    """Wait until some but not all of the job is committed, then SIGKILL the pool process."""
    wait_for(lambda: 0 < fresh(model, pk).processed < fresh(model, pk).total, 30, worker.tail)
    worker.kill_child()
    job = fresh(model, pk)
    assert job.status == JobStatus.RUNNING and job.processed < job.total, "killed too late to matter"


def wait_done(worker, model, pk: int, timeout: float = 60):
    wait_for(lambda: fresh(model, pk).is_finished, timeout, worker.tail)
    return fresh(model, pk)


def import_on_worker(worker, account, user, data: bytes, kind: str, kill: bool) -> ImportJob:
    job = upload(account, user, data, kind)
    services.import_job_map(job=job, fields=job.mapping)  # the analysis goes to the worker
    job = wait_done(worker, ImportJob, job.pk)
    assert job.is_analyzed, job.message
    services.import_job_start(job=job, user=user, options=options_for(job))
    if kill:
        kill_mid_job(worker, ImportJob, job.pk)
    return wait_done(worker, ImportJob, job.pk)


def import_in_process(account, user, data: bytes, kind: str, options: dict | None = None) -> ImportJob:
    """The same file imported here, uninterrupted, in default-sized chunks: the reference."""
    job = upload(account, user, data, kind)
    services.import_job_map(job=job, fields=job.mapping, analyze=False)
    services.import_job_analyze(job_id=job.pk)
    chosen = options if options is not None else options_for(job)
    services.import_job_start(job=fresh(ImportJob, job.pk), user=user, options=chosen, run=False)
    services.import_job_run(job_id=job.pk)
    return fresh(ImportJob, job.pk)


def counters(job: ImportJob) -> tuple:
    return (job.status, job.rows_read, job.created, job.updated, job.unchanged, job.rejected)


def people_state(account) -> tuple:
    return (
        Profile.objects.filter(account=account).count(),
        Contact.objects.filter(account=account).count(),
        ProfileTag.objects.filter(profile__account=account).count(),
    )


def test_it_finishes_a_people_import_killed_in_the_middle(start_worker, account, other_account, owner):
    worker = start_worker()
    job = import_on_worker(worker, account, owner, people_csv(), "people", kill=True)
    reference = import_in_process(other_account, None, people_csv(), "people")
    assert job.status == JobStatus.DONE, job.message
    assert job.processed == job.total == ROWS
    assert counters(job) == counters(reference) == ("done", ROWS, ROWS, 0, 0, 0)
    assert people_state(account) == people_state(other_account) == (ROWS, 2 * ROWS, ROWS)


def test_it_finishes_a_dnc_import_killed_in_the_middle(start_worker, account, other_account, owner):
    worker = start_worker()
    job = import_on_worker(worker, account, owner, dnc_csv(), "dnc", kill=True)
    # Entries are shared between accounts: the reference imports other numbers, or it would only
    # add its account to these.
    reference = import_in_process(other_account, None, dnc_csv(prefix="+3859188"), "dnc")
    assert job.status == JobStatus.DONE, job.message
    assert job.processed == job.total == ROWS
    assert counters(job) == counters(reference) == ("done", ROWS, ROWS, 0, 0, 0)
    assert DncEntry.objects.filter(accounts=account).count() == ROWS
    assert DncEntry.objects.filter(accounts=other_account).count() == ROWS


def crowd(account, n: int = ROWS) -> list[int]:
    profiles = Profile.objects.bulk_create(
        [Profile(account=account, first_name=f"P{i}", city="Paris") for i in range(n)]
    )
    Contact.objects.bulk_create(
        [
            Contact(account=account, profile=p, kind="phone", value=f"+3859177{i:05d}")
            for i, p in enumerate(profiles)
        ]
    )
    return [p.pk for p in profiles]


def test_it_finishes_an_export_killed_in_the_middle(start_worker, account, owner):
    crowd(account)
    worker = start_worker()
    job = exports.export_job_create(
        account=account, user=owner, kind="people", format="xlsx", selection=Selection().to_json()
    )
    kill_mid_job(worker, ExportJob, job.pk)
    job = wait_done(worker, ExportJob, job.pk)
    assert job.status == JobStatus.DONE, job.message
    assert job.processed == job.total == ROWS
    with default_storage.open(job.file_path, "rb") as handle:
        rows = CalamineWorkbook.from_filelike(handle).get_sheet_by_index(0).to_python()
    names = [row[rows[0].index("First name")] for row in rows[1:]]
    assert len(names) == ROWS and len(set(names)) == ROWS  # every profile once: the file was rewritten


def test_it_finishes_a_bulk_tag_change_killed_in_the_middle(start_worker, account, owner, settings):
    ids = crowd(account)
    settings.BULK_SYNC_LIMIT = 10
    vip = tag_services.tag_create(account=account, name="VIP")
    worker = start_worker()
    result = bulk.tag_bulk_change(account=account, user=owner, selection=Selection(), add=[vip], remove=[])
    kill_mid_job(worker, TagBulkJob, result.job.pk)
    job = wait_done(worker, TagBulkJob, result.job.pk)
    assert job.status == JobStatus.DONE, job.message
    assert (job.processed, job.total, job.added) == (ROWS, ROWS, ROWS)
    assert sorted(ProfileTag.objects.filter(tag=vip).values_list("profile_id", flat=True)) == ids


def test_it_takes_over_a_job_whose_whole_worker_was_killed(start_worker, account, owner, settings):
    """Main process and pool killed: the message stays unacknowledged in Redis until the
    visibility timeout; the stale-heartbeat beat of a new worker queues the job again."""
    ids = crowd(account)
    settings.BULK_SYNC_LIMIT = 10
    vip = tag_services.tag_create(account=account, name="VIP")
    first = start_worker()
    result = bulk.tag_bulk_change(account=account, user=owner, selection=Selection(), add=[vip], remove=[])
    wait_for(lambda: 0 < fresh(TagBulkJob, result.job.pk).processed < ROWS, 30, first.tail)
    first.kill_all()
    assert fresh(TagBulkJob, result.job.pk).status == JobStatus.RUNNING
    second = start_worker(beat=True)
    job = wait_done(second, TagBulkJob, result.job.pk)
    assert "worker stopped beating; queued again" in second.tail()
    assert job.status == JobStatus.DONE, job.message
    assert (job.processed, job.added) == (ROWS, ROWS)
    assert sorted(ProfileTag.objects.filter(tag=vip).values_list("profile_id", flat=True)) == ids


def queue_broadcast(account, owner, ids: list[int], blocked: int = 30) -> Broadcast:
    """A broadcast to `ids` whose first `blocked` recipients are on the Do Not Contact list."""
    from dnc import services as dnc_services

    dnc_services.dnc_entries_add(
        accounts=[account],
        entries=[
            {"contact": v, "channel": "", "sender": ""}
            for v in Contact.objects.filter(profile_id__in=ids[:blocked]).values_list("value", flat=True)
        ],
        source=Source.CUSTOM,
    )
    return sending.broadcast_create(
        account=account,
        user=owner,
        name="Spring sale",
        channel="SMS",
        sender="",
        text="20% off",
        audience=sending.AudienceSpec(selections=[Selection(ids=ids)]),
    )


def hand_offs(deliveries) -> list[tuple[str, str]]:
    """(kind, key) of each line FileBackend wrote: `delivered`, or `dedup` for a repeated key."""
    return [tuple(line.split()[:2]) for line in deliveries.read_text().splitlines()]


def assert_each_recipient_delivered_once(broadcast: Broadcast, ids: list[int], deliveries) -> list[str]:
    """Counters exact, one final message row per recipient, one delivery per key; returns the keys
    that were handed over again (always with the key of their first hand-off)."""
    assert broadcast.status == JobStatus.DONE, broadcast.message
    counts = (broadcast.processed, broadcast.total, broadcast.sent, broadcast.blocked_dnc, broadcast.failed)
    assert counts == (ROWS, ROWS, 270, 30, 0)
    messages = Message.objects.filter(broadcast=broadcast)
    per_recipient = Counter(messages.values_list("profile_id", flat=True))
    assert sorted(per_recipient) == ids and set(per_recipient.values()) == {1}
    assert not messages.filter(status=MessageStatus.QUEUED).exists()
    lines = hand_offs(deliveries)
    delivered = Counter(key for kind, key in lines if kind == "delivered")
    assert set(delivered.values()) == {1}  # no recipient got the message twice
    assert set(delivered) == {f"{broadcast.pk}:{pk}" for pk in ids[30:]}
    again = [key for kind, key in lines if kind == "dedup"]
    assert set(again) <= set(delivered)
    return again


def test_it_finishes_a_broadcast_killed_in_the_middle(start_worker, account, owner):
    ids = crowd(account)
    broadcast = queue_broadcast(account, owner, ids)
    worker = start_worker()
    sending.broadcast_send(broadcast=broadcast, user=owner)
    kill_mid_job(worker, Broadcast, broadcast.pk)
    broadcast = wait_done(worker, Broadcast, broadcast.pk)
    assert_each_recipient_delivered_once(broadcast, ids, start_worker.deliveries)


def test_a_broadcast_killed_after_the_hand_off_delivers_each_message_once(
    start_worker, account, owner, monkeypatch
):
    """The window of issues 8 and 11: the backend has a chunk, its outcome is not committed, the
    pool process is killed. The resumed job hands the chunk over again with the same keys and the
    backend (a provider honouring them) delivers nothing twice."""
    ids = crowd(account)
    broadcast = queue_broadcast(account, owner, ids)
    monkeypatch.setenv("FAULTS_SEND_DELAY", "1")  # each hand-off waits 1 s before its commit
    worker = start_worker()
    sending.broadcast_send(broadcast=broadcast, user=owner)

    def in_the_window() -> bool:
        job = fresh(Broadcast, broadcast.pk)
        handed = sum(kind == "delivered" for kind, _ in hand_offs(start_worker.deliveries))
        return handed > job.sent

    wait_for(in_the_window, 30, worker.tail)
    worker.kill_child()
    queued = Message.objects.filter(broadcast=broadcast, status=MessageStatus.QUEUED)
    in_flight = {f"{broadcast.pk}:{pk}" for pk in queued.values_list("profile_id", flat=True)}
    handed = {key for _, key in hand_offs(start_worker.deliveries)}
    assert in_flight and in_flight <= handed, "killed outside the window"
    broadcast = wait_done(worker, Broadcast, broadcast.pk)
    again = assert_each_recipient_delivered_once(broadcast, ids, start_worker.deliveries)
    assert sorted(again) == sorted(in_flight)  # exactly the chunk in flight, once more, same keys
