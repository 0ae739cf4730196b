"""SIGKILL in the middle of a broadcast sent through the real channels, to real servers in this
process: an SMTP server (aiosmtpd) receives each Message-ID at most once (the round of emails
claimed at the kill and not handed over yet is lost); the Infobip-like server gets
each messageId delivered once (a repeated hand-off carries the same messageId, which is what the
provider de-duplicates on)."""

from __future__ import annotations

from collections import Counter

from django.conf import settings

from audience.models import Contact, Profile
from audience.selection import Selection
from communications import services as sending
from communications.channels import email
from communications.models import Broadcast, HandOff, MessageStatus
from tests.communications.servers import HttpRecorder, smtp_server
from tests.faults.conftest import wait_for
from tests.faults.test_worker_killed import fresh, wait_done

ROWS = 200


def people(account) -> list[int]:
    profiles = Profile.objects.bulk_create(
        [Profile(account=account, first_name=f"P{i}") for i in range(ROWS)]
    )
    Contact.objects.bulk_create(
        [
            Contact(account=account, profile=p, kind="email", value=f"p{i}@example.com")
            for i, p in enumerate(profiles)
        ]
        + [
            Contact(account=account, profile=p, kind="phone", value=f"+3859177{i:05d}")
            for i, p in enumerate(profiles)
        ]
    )
    return [p.pk for p in profiles]


def broadcast(account, owner, ids: list[int], channel: str) -> Broadcast:
    return sending.broadcast_create(
        account=account,
        user=owner,
        name="Spring sale",
        channel=channel,
        sender="",
        subject="Hi {{ first_name }}" if channel == "EMAIL" else "",
        text="Hi {{ first_name }}, 20% off",
        audience=sending.AudienceSpec(selections=[Selection(ids=ids)]),
    )


def state(worker, job, smtp) -> str:
    rows = list(job.messages.values_list("status", "error")[:3])
    return f"{worker.tail()}\n{fresh(Broadcast, job.pk).message} {rows} received {len(smtp.messages)}"


def assert_counts(job: Broadcast) -> None:
    assert job.status == "done", job.message
    assert (job.total, job.processed, job.sent, job.failed) == (ROWS, ROWS, ROWS, 0)
    assert not job.messages.filter(status=MessageStatus.QUEUED).exists()


def test_a_broadcast_killed_mid_smtp_send_delivers_each_message_id_once(start_worker, account, owner):
    controller, smtp = smtp_server()
    try:
        ids = people(account)
        job = broadcast(account, owner, ids, "EMAIL")
        smtp.delay = 0.2  # each message waits before the server's 250: a kill lands mid-message
        worker = start_worker(
            env={"COMMUNICATIONS_BACKEND": "", "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(controller.port)}
        )
        sending.broadcast_send(broadcast=job, user=owner)
        wait_for(lambda: len(smtp.messages) > 25, 60, lambda: state(worker, job, smtp))
        worker.kill_child()
        smtp.delay = 0
        job = wait_done(worker, Broadcast, job.pk, timeout=120)
        assert_counts(job)
        received = Counter(smtp.message_ids())
        assert set(received.values()) == {1}  # no Message-ID twice
        every = {f"<{job.pk}.{pk}.audience@localhost>" for pk in ids}
        assert set(received) <= every
        # What the rounds claimed at the kill had not handed over yet is lost (counted as sent):
        # at most the round going out and the next one, claimed meanwhile: the documented price of
        # one claim and one commit a round.
        lost = every - set(received)
        assert len(lost) <= 2 * email.CLAIM_BATCH * settings.SMTP_CONNECTIONS
        assert HandOff.objects.count() == ROWS
    finally:
        controller.stop()


def test_a_broadcast_killed_mid_infobip_send_hands_each_message_id_over_with_its_key(
    start_worker, account, owner
):
    server = HttpRecorder()
    try:
        ids = people(account)
        job = broadcast(account, owner, ids, "SMS")
        server.delay = 1  # the provider has the batch; Audience has not recorded its answer
        env = {"COMMUNICATIONS_BACKEND": "", "INFOBIP_BASE_URL": server.url, "INFOBIP_API_KEY": "k"}
        worker = start_worker(env=env)
        sending.broadcast_send(broadcast=job, user=owner)
        wait_for(lambda: len(server.message_ids()) > fresh(Broadcast, job.pk).sent, 60, worker.tail)
        in_flight = {
            f"{job.pk}:{pk}"
            for pk in job.messages.filter(status="queued").values_list("profile_id", flat=True)
        }
        worker.kill_child()
        server.delay = 0
        job = wait_done(worker, Broadcast, job.pk, timeout=120)
        assert_counts(job)
        handed = Counter(server.message_ids())
        assert set(handed) == {f"{job.pk}:{pk}" for pk in ids}
        again = {key for key, n in handed.items() if n > 1}
        # Only the batch in flight at the kill came again, once, with the same messageIds: the
        # provider delivers each messageId once.
        assert again <= in_flight and set(handed.values()) <= {1, 2}
    finally:
        server.stop()
