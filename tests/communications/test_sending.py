from __future__ import annotations

import pytest
from django.test import TestCase

from audience.models import Notification
from audience.selection import Selection
from communications import services
from communications.backends import MemoryBackend
from communications.models import Message, MessageStatus
from tests.communications.conftest import assert_adds_up, block, broadcast_for, make_profile, send

PHONE_A = "+385912345678"
PHONE_B = "+385912345679"
PHONE_C = "+447911123456"


def statuses(broadcast) -> dict[int, str]:
    return dict(broadcast.messages.values_list("profile_id", "status"))


def test_it_sends_one_recipient_and_records_the_message(account, owner, memory_backend):
    ana = make_profile(account, phones=[PHONE_A])
    broadcast = send(broadcast_for(account, [ana], sender="Acme"), user=owner)
    assert broadcast.status == "done"
    assert (broadcast.total, broadcast.sent) == (1, 1)
    message = Message.objects.get(broadcast=broadcast)
    assert (message.profile_id, message.destination, message.status) == (ana.pk, PHONE_A, MessageStatus.SENT)
    assert [m.destination for m in memory_backend.outbox] == [PHONE_A]
    assert Notification.objects.filter(user=owner, url=broadcast.get_absolute_url()).exists()


def test_it_blocks_one_recipient_on_the_dnc_list(account, memory_backend):
    ana = make_profile(account, phones=[PHONE_A])
    block([account], PHONE_A)
    broadcast = send(broadcast_for(account, [ana]))
    assert statuses(broadcast) == {ana.pk: MessageStatus.BLOCKED_DNC}
    assert memory_backend.outbox == []
    assert_adds_up(broadcast)


def test_it_counts_every_outcome_and_they_add_up(account, memory_backend):
    sent = make_profile(account, "Sent", phones=[PHONE_A])
    blocked = make_profile(account, "Blocked", phones=[PHONE_B])
    emailonly = make_profile(account, "Email only", emails=["e@example.com"])
    failing = make_profile(account, "Failing", phones=[PHONE_C])
    block([account], PHONE_B, channel="SMS")
    memory_backend.failing = {PHONE_C}
    broadcast = send(broadcast_for(account, [sent, blocked, emailonly, failing]))
    assert statuses(broadcast) == {
        sent.pk: MessageStatus.SENT,
        blocked.pk: MessageStatus.BLOCKED_DNC,
        emailonly.pk: MessageStatus.NO_DESTINATION,
        failing.pk: MessageStatus.FAILED,
    }
    assert (broadcast.sent, broadcast.blocked_dnc, broadcast.no_destination, broadcast.failed) == (1, 1, 1, 1)
    assert_adds_up(broadcast)
    assert "4 recipients" in broadcast.message


@pytest.mark.parametrize(
    ("entry_channel", "send_channel", "is_blocked"),
    [("", "SMS", True), ("", "WHATSAPP", True), ("SMS", "SMS", True), ("SMS", "VIBER", False)],
)
def test_it_applies_blank_and_specific_channel_entries(account, entry_channel, send_channel, is_blocked):
    ana = make_profile(account, phones=[PHONE_A])
    block([account], PHONE_A, channel=entry_channel)
    broadcast = send(broadcast_for(account, [ana], channel=send_channel))
    expected = MessageStatus.BLOCKED_DNC if is_blocked else MessageStatus.SENT
    assert statuses(broadcast) == {ana.pk: expected}


def test_it_applies_sender_entries_only_to_that_sender(account):
    ana = make_profile(account, phones=[PHONE_A])
    block([account], PHONE_A, sender="ACME")
    assert statuses(send(broadcast_for(account, [ana], sender="ACME")))[ana.pk] == MessageStatus.BLOCKED_DNC
    assert statuses(send(broadcast_for(account, [ana], sender="Other")))[ana.pk] == MessageStatus.SENT


def test_it_blocks_emails_by_domain_entries(account, memory_backend):
    ana = make_profile(account, emails=["ana@blocked.example"])
    ben = make_profile(account, "Ben", emails=["ben@fine.example"])
    block([account], "blocked.example")
    broadcast = send(broadcast_for(account, [ana, ben], channel="EMAIL"))
    assert statuses(broadcast) == {ana.pk: MessageStatus.BLOCKED_DNC, ben.pk: MessageStatus.SENT}
    assert [m.destination for m in memory_backend.outbox] == ["ben@fine.example"]


def test_it_reaches_a_person_on_a_contact_that_is_not_blocked(account, memory_backend):
    ana = make_profile(account, phones=[PHONE_A, PHONE_B])
    block([account], PHONE_A)
    broadcast = send(broadcast_for(account, [ana]))
    assert broadcast.messages.get().destination == PHONE_B
    assert [m.destination for m in memory_backend.outbox] == [PHONE_B]


def test_it_applies_only_the_entries_of_the_broadcast_account(account, other_account):
    ana = make_profile(account, phones=[PHONE_A])
    olga = make_profile(other_account, "Olga", phones=[PHONE_A])
    block([other_account], PHONE_A)
    assert statuses(send(broadcast_for(account, [ana])))[ana.pk] == MessageStatus.SENT
    assert statuses(send(broadcast_for(other_account, [olga])))[olga.pk] == MessageStatus.BLOCKED_DNC


def test_it_applies_an_entry_of_several_accounts_to_each(account, other_account):
    ana = make_profile(account, phones=[PHONE_A])
    olga = make_profile(other_account, "Olga", phones=[PHONE_A])
    block([account, other_account], PHONE_A)
    assert statuses(send(broadcast_for(account, [ana])))[ana.pk] == MessageStatus.BLOCKED_DNC
    assert statuses(send(broadcast_for(other_account, [olga])))[olga.pk] == MessageStatus.BLOCKED_DNC


def test_it_never_sends_to_another_accounts_profiles(account, other_account, memory_backend):
    olga = make_profile(other_account, "Olga", phones=[PHONE_A])
    broadcast = send(broadcast_for(account, [olga]))
    assert broadcast.total == 0
    assert memory_backend.outbox == []


def test_it_sends_many_recipients_in_chunks(account, memory_backend, monkeypatch):
    monkeypatch.setattr(services, "SEND_CHUNK", 7)
    profiles = [make_profile(account, f"P{i}", phones=[f"+3859100000{i:02d}"]) for i in range(30)]
    blocked = profiles[::3]
    for profile in blocked:
        block([account], profile.contacts.get().value)
    broadcast = send(broadcast_for(account, profiles))
    assert (broadcast.total, broadcast.sent, broadcast.blocked_dnc) == (30, 20, 10)
    assert {m.profile_id for m in memory_backend.outbox} == {p.pk for p in profiles} - {p.pk for p in blocked}
    assert_adds_up(broadcast)


def test_a_retried_send_does_not_duplicate_messages(account, memory_backend, monkeypatch):
    monkeypatch.setattr(services, "SEND_CHUNK", 2)
    profiles = [make_profile(account, f"P{i}", phones=[f"+3859100001{i:02d}"]) for i in range(5)]
    broadcast = send(broadcast_for(account, profiles))
    # A redelivered task (the worker died after the last chunk) finds the job running again.
    type(broadcast).objects.filter(pk=broadcast.pk).update(status="running")
    services.broadcast_run(broadcast_id=broadcast.pk)
    services.broadcast_run(broadcast_id=broadcast.pk)
    broadcast.refresh_from_db()
    assert broadcast.messages.count() == 5
    assert len(memory_backend.outbox) == 5
    assert_adds_up(broadcast)


def test_an_interrupted_send_resumes_where_it_stopped(account, memory_backend, monkeypatch):
    monkeypatch.setattr(services, "SEND_CHUNK", 2)
    profiles = [make_profile(account, f"P{i}", phones=[f"+3859100002{i:02d}"]) for i in range(5)]
    broadcast = broadcast_for(account, profiles)
    calls = {"n": 0}
    original = services._broadcast_chunk

    def dying(*args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("worker killed")  # not an Exception: the job stays running
        return original(*args)

    monkeypatch.setattr(services, "_broadcast_chunk", dying)
    with pytest.raises(SystemExit), TestCase.captureOnCommitCallbacks(execute=True):
        services.broadcast_send(broadcast=broadcast, user=None)
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.messages.count()) == ("running", 2)
    services.broadcast_run(broadcast_id=broadcast.pk)
    broadcast.refresh_from_db()
    assert broadcast.status == "done"
    assert len(memory_backend.outbox) == 5
    assert_adds_up(broadcast)


def test_a_broadcast_is_sent_only_once(account):
    ana = make_profile(account, phones=[PHONE_A])
    broadcast = send(broadcast_for(account, [ana]))
    with pytest.raises(services.ValidationError):
        services.broadcast_send(broadcast=broadcast, user=None)
    assert broadcast.messages.count() == 1


def test_a_draft_is_never_sent_by_a_stray_task(account, memory_backend):
    broadcast = broadcast_for(account, [make_profile(account, phones=[PHONE_A])])
    services.broadcast_run(broadcast_id=broadcast.pk)
    broadcast.refresh_from_db()
    assert broadcast.is_draft and broadcast.status == "pending"
    assert memory_backend.outbox == []


def test_a_failing_backend_marks_the_chunk_failed_and_goes_on(account, memory_backend, monkeypatch):
    def broken(self, messages):
        raise ConnectionError("provider down")

    monkeypatch.setattr(memory_backend, "send", broken)
    broadcast = send(broadcast_for(account, [make_profile(account, phones=[PHONE_A])]))
    assert (broadcast.status, broadcast.failed) == ("done", 1)
    assert "provider down" in broadcast.messages.get().error


def test_it_sends_to_everyone_matching_a_people_filter(account, memory_backend):
    london = make_profile(account, "L", phones=[PHONE_A], city="London")
    make_profile(account, "P", phones=[PHONE_B], city="Paris")
    broadcast = services.broadcast_create(
        account=account,
        user=None,
        name="London",
        channel="SMS",
        sender="",
        text="Hi",
        audience=services.AudienceSpec(selections=[Selection(ids=None, filters={"city": ["london"]})]),
    )
    broadcast = send(broadcast)
    assert statuses(broadcast) == {london.pk: MessageStatus.SENT}


def test_it_sends_to_the_profiles_of_tags_and_companies(account, memory_backend):
    from audience.models import Company
    from tags import services as tag_services

    vip = tag_services.tag_get_or_create(account=account, name="VIP")
    company = Company.objects.create(account=account, name="Initech")
    tagged = make_profile(account, "T", phones=[PHONE_A])
    employee = make_profile(account, "E", phones=[PHONE_B], company=company)
    make_profile(account, "Neither", phones=[PHONE_C])
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[tagged.pk])
    broadcast = services.broadcast_create(
        account=account,
        user=None,
        name="Mixed",
        channel="SMS",
        sender="",
        text="Hi",
        audience=services.AudienceSpec(tag_ids=[vip.pk], company_ids=[company.pk]),
    )
    assert set(statuses(send(broadcast))) == {tagged.pk, employee.pk}


def test_it_refuses_an_empty_audience_and_another_accounts_tag(account, other_account):
    from tags import services as tag_services

    with pytest.raises(services.ValidationError):
        services.broadcast_create(
            account=account,
            user=None,
            name="x",
            channel="SMS",
            sender="",
            text="x",
            audience=services.AudienceSpec(),
        )
    foreign = tag_services.tag_get_or_create(account=other_account, name="Theirs")
    with pytest.raises(services.ValidationError):
        services.broadcast_create(
            account=account,
            user=None,
            name="x",
            channel="SMS",
            sender="",
            text="x",
            audience=services.AudienceSpec(tag_ids=[foreign.pk]),
        )


def test_a_worker_killed_after_the_hand_off_resumes_without_a_second_delivery(
    account, memory_backend, monkeypatch
):
    """The window of issues 8 and 11: the backend took a chunk, the worker died before the outcome
    committed. The resumed run hands those messages over again with the same keys; the backend
    de-duplicates them, every recipient is delivered once and the counters are exact."""
    monkeypatch.setattr(services, "SEND_CHUNK", 3)
    phones = [f"+3859100003{i:02d}" for i in range(7)]
    profiles = [make_profile(account, f"P{i}", phones=[phone]) for i, phone in enumerate(phones)]
    profiles[4].contacts.all().delete()  # no destination
    block([account], phones[1])
    memory_backend.failing = {phones[5]}
    broadcast = broadcast_for(account, profiles)
    calls = {"n": 0}
    original = services._backend_send

    def dying(*args):
        failures = original(*args)
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("worker killed")  # the backend has the second chunk; nothing committed
        return failures

    monkeypatch.setattr(services, "_backend_send", dying)
    with pytest.raises(SystemExit), TestCase.captureOnCommitCallbacks(execute=True):
        services.broadcast_send(broadcast=broadcast, user=None)
    broadcast.refresh_from_db()
    queued = set(broadcast.messages.filter(status=MessageStatus.QUEUED).values_list("profile_id", flat=True))
    assert queued == {profiles[3].pk, profiles[5].pk}
    assert (broadcast.status, broadcast.sent, broadcast.failed) == ("running", 2, 0)
    assert [m.profile_id for m in memory_backend.outbox] == [profiles[i].pk for i in (0, 2, 3)]

    services.broadcast_run(broadcast_id=broadcast.pk)
    broadcast.refresh_from_db()
    assert broadcast.status == "done"
    delivered = [m.profile_id for m in memory_backend.outbox]
    assert delivered == [profiles[i].pk for i in (0, 2, 3, 6)]  # once each, in order
    assert [(m.profile_id, m.key) for m in memory_backend.dedups] == [
        (profiles[3].pk, f"{broadcast.pk}:{profiles[3].pk}")
    ]
    expected = (7, 4, 1, 1, 1)
    actual = (
        broadcast.total,
        broadcast.sent,
        broadcast.blocked_dnc,
        broadcast.no_destination,
        broadcast.failed,
    )
    assert actual == expected
    assert broadcast.processed == 7
    assert statuses(broadcast)[profiles[5].pk] == MessageStatus.FAILED
    assert_adds_up(broadcast)


def test_a_worker_killed_before_the_hand_off_hands_the_queued_messages_over_once(
    account, memory_backend, monkeypatch
):
    monkeypatch.setattr(services, "SEND_CHUNK", 2)
    profiles = [make_profile(account, f"P{i}", phones=[f"+3859100004{i:02d}"]) for i in range(5)]
    broadcast = broadcast_for(account, profiles)
    original = services._broadcast_hand_over
    calls = {"n": 0}

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # the run's first call, then chunk one's; chunk two is only queued
            raise SystemExit("worker killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(services, "_broadcast_hand_over", dying)
    with pytest.raises(SystemExit), TestCase.captureOnCommitCallbacks(execute=True):
        services.broadcast_send(broadcast=broadcast, user=None)
    broadcast.refresh_from_db()
    assert broadcast.messages.filter(status=MessageStatus.QUEUED).count() == 2
    assert len(memory_backend.outbox) == 2
    monkeypatch.setattr(services, "_broadcast_hand_over", original)
    services.broadcast_run(broadcast_id=broadcast.pk)
    broadcast.refresh_from_db()
    assert sorted(m.profile_id for m in memory_backend.outbox) == [p.pk for p in profiles]
    assert memory_backend.dedups == []
    assert (broadcast.status, broadcast.sent, broadcast.processed) == ("done", 5, 5)
    assert_adds_up(broadcast)


def test_a_hand_off_recorded_twice_is_counted_once(account, memory_backend):
    """Two workers that both handed the same queued messages over (a take-over racing a slow
    worker) record the outcome once: only rows still queued change and are counted."""
    profiles = [make_profile(account, f"P{i}", phones=[f"+3859100005{i:02d}"]) for i in range(3)]
    broadcast = broadcast_for(account, profiles)
    services._broadcast_chunk(broadcast, [p.pk for p in profiles])
    ids = [p.pk for p in profiles]
    services._handed_over_commit(broadcast, ids, {profiles[2].pk: "refused"})
    services._handed_over_commit(broadcast, ids, {})
    broadcast.refresh_from_db()
    assert (broadcast.sent, broadcast.failed, broadcast.processed) == (2, 1, 3)
    assert statuses(broadcast)[profiles[2].pk] == MessageStatus.FAILED


def test_with_several_processes_every_other_chunk_is_a_task_and_the_counts_add_up(
    account, settings, monkeypatch
):
    """SEND_PROCESSES=2: the run hands over chunks 0, 2, … itself and queues a hand-over task for
    chunks 1, 3, … (run in-process here, as tasks are in the tests); a task that is lost leaves its
    messages queued until the run's sweep at the end sends them."""
    from communications import services as sending
    from communications import tasks

    settings.SEND_PROCESSES = 2
    settings.JOB_STALE_SECONDS = 0
    monkeypatch.setattr(sending, "SEND_CHUNK", 2)
    people = [make_profile(account, f"P{i}", phones=[f"+3859100000{i:02d}"]) for i in range(9)]
    ranges = []
    real = tasks.broadcast_hand_over_task.delay

    def delay(broadcast_id, after, upto):
        ranges.append((after, upto))
        if len(ranges) == 2:
            return None  # this one is lost
        return real(broadcast_id, after, upto)

    monkeypatch.setattr(tasks.broadcast_hand_over_task, "delay", delay)
    broadcast = send(broadcast_for(account, people))
    ids = [p.pk for p in people]
    assert ranges == [(ids[1], ids[3]), (ids[5], ids[7])]
    assert (broadcast.sent, broadcast.status) == (9, "done")
    assert sorted(m.profile_id for m in MemoryBackend.outbox) == ids and not MemoryBackend.dedups
    assert_adds_up(broadcast)
