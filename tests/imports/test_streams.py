"""Imports written over several PostgreSQL connections at once (`imports.streams`): the same end
state as one connection, chunks committed in file order whatever finishes first, and a failure —
a deadlock between two chunks included — leaves a committed prefix and nothing after it."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from audience.models import Contact, Profile
from imports import locks, runs, services
from imports.models import ImportJob
from imports.targets.people import PeopleTarget
from tags.models import ProfileTag
from tests.imports.conftest import job_from

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="streams are PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]

CHUNK = 20
ROWS = 200  # ten chunks


def people_csv(shared: tuple[int, int] = (3, 150)) -> bytes:
    """ROWS rows; every fifth names company Acme, every seventh Beta (in every chunk). The two
    `shared` rows (by default in chunks 0 and 7) each carry a key of the profile `existing`
    makes, with a different custom attribute."""
    lines = ["Email,Phone,First name,Company,Tier,Region"]
    for i in range(ROWS):
        company = "Acme" if i % 5 == 0 else "Beta" if i % 7 == 0 else ""
        email, phone, tier, region = f"p{i}@example.com", "", "", ""
        if i == shared[0]:
            email, tier = "shared@example.com", "gold"
        if i == shared[1]:
            email, phone, region = "", "+385911111111", "north"
        lines.append(f"{email},{phone},Name{i},{company},{tier},{region}")
    return ("\n".join(lines) + "\n").encode()


def existing(account) -> Profile:
    profile = Profile.objects.create(account=account, first_name="Old", attributes={"tier": "tin"})
    Contact.objects.create(account=account, profile=profile, kind="email", value="shared@example.com")
    Contact.objects.create(account=account, profile=profile, kind="phone", value="+385911111111")
    return profile


def import_file(account, user, data: bytes, options: dict | None = None) -> ImportJob:
    job = job_from(account, user, "people.csv", data)
    services.import_job_map(
        job=job,
        fields=["email", "phone", "first_name", "company", "", ""],
        new_fields={4: ("tier", "text"), 5: ("region", "text")},
        analyze=False,
    )
    services.import_job_analyze(job_id=job.pk)
    job = ImportJob.objects.get(pk=job.pk)
    services.import_job_start(
        job=job, user=user, options=options or {"existing": "rewrite", "tags": ["Fair"]}, run=False
    )
    return services.import_job_run(job_id=job.pk)


def state(account) -> tuple:
    profiles = sorted(
        (p.first_name, p.company.name if p.company else "", sorted(p.attributes.items()))
        for p in Profile.objects.filter(account=account).select_related("company")
    )
    contacts = sorted(Contact.objects.filter(account=account).values_list("kind", "value"))
    tagged = ProfileTag.objects.filter(profile__account=account).count()
    return profiles, contacts, tagged


def counts(job: ImportJob) -> tuple:
    return job.status, job.created, job.updated, job.unchanged, job.rejected, job.rows_read, job.resume_row


@pytest.fixture
def small_chunks(monkeypatch, settings):
    monkeypatch.setattr(runs, "CHUNK", CHUNK)
    settings.IMPORT_STREAMS = 2


@pytest.fixture
def threads_seen(monkeypatch):
    """The threads that wrote chunks."""
    seen: set[int] = set()
    write = runs._chunk_write

    def spy(*args, **kwargs):
        seen.add(threading.get_ident())
        return write(*args, **kwargs)

    monkeypatch.setattr(runs, "_chunk_write", spy)
    return seen


def test_it_ends_as_one_connection_does(account, other_account, owner, small_chunks, threads_seen, settings):
    for target in (account, other_account):
        existing(target)
    settings.IMPORT_STREAMS = 1
    one = import_file(other_account, None, people_csv())
    assert threads_seen == {threading.get_ident()}
    threads_seen.clear()
    settings.IMPORT_STREAMS = 2
    two = import_file(account, owner, people_csv())
    assert len(threads_seen) == 2 and threading.get_ident() not in threads_seen
    assert counts(two) == counts(one) == ("done", ROWS - 2, 2, 0, 0, ROWS, ROWS)
    assert state(account) == state(other_account)
    # The existing profile, rewritten by chunk 1 and by chunk 8: neither rewrite lost the other's.
    shared = Contact.objects.get(account=account, value="shared@example.com").profile
    assert shared.attributes == {"tier": "gold", "region": "north"}
    assert shared.first_name == "Name150"  # the later row's
    assert Profile.objects.filter(account=account).count() == ROWS - 1


def test_a_failing_chunk_lets_nothing_after_it_commit(account, owner, small_chunks, monkeypatch):
    """Chunk 3 fails late, after chunk 4 has done its writes on the other connection: chunk 4
    must roll back, so the job's resume point and the database agree on chunks 0-2."""
    original = PeopleTarget.import_chunk

    def failing(self, records):
        if records and records[0].row_no == 3 * CHUNK + 2:  # rows are numbered from 2
            time.sleep(0.5)
            raise ValueError("disk on fire")
        return original(self, records)

    monkeypatch.setattr(PeopleTarget, "import_chunk", failing)
    import_file(account, owner, people_csv())
    job = ImportJob.objects.get(account=account)
    # The job runner fails the job (it used to stay running) with the committed prefix.
    assert (job.status, job.resume_row, job.rows_read, job.created) == (
        "failed",
        3 * CHUNK,
        3 * CHUNK,
        3 * CHUNK,
    )
    assert "ValueError: disk on fire" in job.message
    assert Profile.objects.filter(account=account).count() == 3 * CHUNK
    # A late delivery of its task changes nothing: a failed job is over.
    monkeypatch.setattr(PeopleTarget, "import_chunk", original)
    assert services.import_job_run(job_id=job.pk) is None
    assert Profile.objects.filter(account=account).count() == 3 * CHUNK


def test_a_deadlock_between_chunks_is_written_again_one_at_a_time(
    account, other_account, owner, small_chunks, threads_seen, monkeypatch
):
    """Rows of chunks 0 and 1 match one existing profile. Chunk 0 pauses before rewriting it
    while chunk 1, on the other connection, locks it, rewrites it and waits for chunk 0 to
    commit; chunk 0 then waits for that profile: PostgreSQL stops one of them as a deadlock
    (after its deadlock_timeout, 1 s), and the chunks not committed are written again."""
    update = PeopleTarget._update
    first = {"paused": False}

    def pausing(self, outcomes):
        if not first["paused"] and any(o.record.row_no == 5 for o in outcomes):  # row 3
            first["paused"] = True
            time.sleep(0.5)
        return update(self, outcomes)

    monkeypatch.setattr(PeopleTarget, "_update", pausing)
    for target in (account, other_account):
        existing(target)
    job = import_file(account, owner, people_csv(shared=(3, 25)))
    assert first["paused"] and threading.get_ident() in threads_seen  # written again here
    assert counts(job) == ("done", ROWS - 2, 2, 0, 0, ROWS, ROWS)
    monkeypatch.setattr(PeopleTarget, "_update", update)
    import_file(other_account, None, people_csv(shared=(3, 25)))
    assert state(account) == state(other_account)
    shared = Contact.objects.get(account=account, value="shared@example.com").profile
    assert shared.attributes == {"tier": "gold", "region": "north"}


def test_a_cancelled_import_keeps_a_committed_prefix(account, owner, small_chunks, monkeypatch):
    """Cancelled while chunk 3 is written: no chunk is handed out after that, the ones already
    out finish, and the counters, the resume point and the database agree."""
    write = runs._chunk_write

    def cancelling(job, target, tags, item):
        if item[0] == 4 * CHUNK:
            services.import_job_cancel(job=job)
        return write(job, target, tags, item)

    monkeypatch.setattr(runs, "_chunk_write", cancelling)
    job = import_file(account, owner, people_csv())
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert 4 * CHUNK <= job.resume_row < ROWS
    assert job.rows_read == job.resume_row == job.created == Profile.objects.filter(account=account).count()


def test_do_not_contact_imports_stream_too(
    account, other_account, owner, small_chunks, threads_seen, settings
):
    from dnc.models import DncAudit, DncEntryAccount

    data = ("Contact,Channel\n" + "".join(f"+3859155{i:05d},SMS\n" for i in range(ROWS))).encode()

    def dnc_import(target, user):
        job = job_from(target, user, "dnc.csv", data, kind="dnc")
        services.import_job_map(job=job, fields=job.mapping, analyze=False)
        services.import_job_analyze(job_id=job.pk)
        services.import_job_start(
            job=ImportJob.objects.get(pk=job.pk), user=user, options={"accounts": [target.pk]}, run=False
        )
        return services.import_job_run(job_id=job.pk)

    streamed = dnc_import(account, owner)
    assert len(threads_seen) == 2 and threading.get_ident() not in threads_seen
    settings.IMPORT_STREAMS = 1
    single = dnc_import(other_account, None)
    assert counts(streamed) == ("done", ROWS, 0, 0, 0, ROWS, ROWS)
    assert counts(single) == ("done", 0, ROWS, 0, 0, ROWS, ROWS)  # the same entries, merged

    def listed(target):
        return sorted(
            DncEntryAccount.objects.filter(account=target).values_list("value", "sender", "channel")
        )

    assert listed(account) == listed(other_account) and len(listed(account)) == ROWS
    assert DncAudit.objects.filter(account_id=account.pk).count() == ROWS


def test_a_second_import_of_the_account_waits_and_says_so(account, owner, small_chunks):
    """Another import of the account holds its lock: this one says it is waiting, then runs."""
    import psycopg
    from django.db import connection as default

    job = job_from(account, owner, "people.csv", people_csv())
    services.import_job_map(job=job, fields=job.mapping, analyze=False)
    services.import_job_analyze(job_id=job.pk)
    services.import_job_start(job=ImportJob.objects.get(pk=job.pk), user=owner, options={}, run=False)
    settings_dict = default.get_connection_params()
    with psycopg.connect(**settings_dict, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [locks.IMPORT_LOCK, account.pk])

        def run_import() -> None:
            try:
                services.import_job_run(job_id=job.pk)
            finally:
                connections.close_all()

        runner = threading.Thread(target=run_import)
        runner.start()
        deadline = time.monotonic() + 10
        while ImportJob.objects.get(pk=job.pk).message != locks.WAITING_FOR_ACCOUNT:
            assert time.monotonic() < deadline, "the job never said it was waiting"
            time.sleep(0.05)
        assert ImportJob.objects.get(pk=job.pk).rows_read == 0
        other.execute("SELECT pg_advisory_unlock(%s, %s)", [locks.IMPORT_LOCK, account.pk])
        runner.join(30)
    job.refresh_from_db()
    assert (job.status, job.created, job.message) == ("done", ROWS, services.import_report_line(job))
