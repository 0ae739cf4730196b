"""The channels against real servers: an SMTP server (aiosmtpd) and an HTTP server answering like
Infobip's /sms/3/messages and like a webhook gateway, both in this process."""

from __future__ import annotations

import hashlib
import hmac
from email.header import decode_header, make_header
from urllib.parse import quote

import pytest

from communications.backends import Outgoing
from communications.channels.email import SmtpChannel, handoff_claim
from communications.models import HandOff, MessageStatus, OutboxMessage, Sender
from communications.optout import unsubscribe_token
from tests.communications.conftest import (
    assert_adds_up,
    broadcast_for,
    make_profile,
    send,
    sender_for,
    whatsapp_wrote,
)
from tests.communications.servers import HttpRecorder, smtp_server


@pytest.fixture
def channels(settings):
    """No single backend: each channel's backend comes from the provider settings."""
    settings.COMMUNICATIONS_BACKEND = ""
    settings.EMAIL_HOST = ""
    settings.INFOBIP_BASE_URL = settings.INFOBIP_API_KEY = ""
    settings.COMMUNICATIONS_WEBHOOK_URL = ""
    settings.SEND_RETRY_MS = 10
    settings.PUBLIC_BASE_URL = "https://audience.example.com"
    settings.UNSUBSCRIBE_MAILTO = "unsubscribe@acme.example"
    return settings


@pytest.fixture(params=[False, True], ids=["one-command-at-a-time", "pipelining"])
def smtp(channels, request):
    """The SMTP server, once without PIPELINING (smtplib's conversation) and once with it."""
    controller, recorder = smtp_server(pipelining=request.param)
    channels.EMAIL_HOST, channels.EMAIL_PORT = "127.0.0.1", controller.port
    yield recorder
    controller.stop()


@pytest.fixture
def infobip(channels):
    server = HttpRecorder()
    channels.INFOBIP_BASE_URL, channels.INFOBIP_API_KEY = server.url, "secret-key"
    yield server
    server.stop()


@pytest.fixture
def gateway(channels):
    server = HttpRecorder()
    channels.COMMUNICATIONS_WEBHOOK_URL = f"{server.url}/send"
    channels.COMMUNICATIONS_WEBHOOK_SECRET = "shh"
    yield server
    server.stop()


def bodies(mail) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in mail.walk()
        if not part.is_multipart()
    }


def email_broadcast(account, profiles, **content):
    content.setdefault("subject", "Hello {{ first_name|default:'there' }}")
    content.setdefault("text", "Hi {{ first_name }}, your tier: {{ custom.tier|default:'none' }}")
    return broadcast_for(account, profiles, channel="EMAIL", sender="news@acme.example", **content)


def test_it_sends_each_email_over_smtp_with_its_headers(account, smtp):
    ana = make_profile(account, "Ana", emails=["ana@example.com"], attributes={"tier": "gold"})
    broadcast = send(email_broadcast(account, [ana], html="<p>Hi <b>{{ first_name }}</b></p>"))
    assert (broadcast.sent, broadcast.failed) == (1, 0)
    (mail,) = smtp.messages
    assert mail["To"] == "ana@example.com" and mail["From"] == "news@acme.example"
    assert mail["Subject"] == "Hello Ana"
    assert mail["Message-ID"] == f"<{broadcast.pk}.{ana.pk}.audience@acme.example>"
    token = unsubscribe_token(broadcast.pk, ana.pk)
    assert " ".join(mail["List-Unsubscribe"].split()) == (
        f"<https://audience.example.com/communications/unsubscribe/{token}/>, "
        f"<mailto:unsubscribe@acme.example?subject={quote('unsubscribe ' + token)}>"
    )
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    parts = bodies(mail)
    assert parts["text/plain"].strip() == "Hi Ana, your tier: gold"
    assert parts["text/html"].strip() == "<p>Hi <b>Ana</b></p>"


def test_it_fails_an_email_the_smtp_server_refuses_with_its_reply(account, smtp):
    ana = make_profile(account, "Ana", emails=["ana@example.com"])
    ben = make_profile(account, "Ben", emails=["ben@example.com"])
    smtp.refuse = {"ben@example.com"}
    broadcast = send(email_broadcast(account, [ana, ben]))
    assert (broadcast.sent, broadcast.failed) == (1, 1)
    failed = broadcast.messages.get(status=MessageStatus.FAILED)
    assert failed.profile_id == ben.pk and failed.error.startswith("550 5.1.1")
    assert_adds_up(broadcast)


def test_it_retries_an_smtp_server_that_is_busy(account, smtp):
    ana = make_profile(account, "Ana", emails=["ana@example.com"])
    smtp.busy = 2  # two 421 answers, then it accepts
    broadcast = send(email_broadcast(account, [ana]))
    assert (broadcast.sent, broadcast.failed, len(smtp.messages)) == (1, 0, 1)


def test_it_retries_a_busy_answer_in_the_middle_of_a_chunk_each_message_once(account, smtp):
    """With PIPELINING the 421 answers a content written together with the next message's
    commands: that message goes on, the refused one is handed over again on its own."""
    people = [make_profile(account, f"P{i}", emails=[f"p{i}@example.com"]) for i in range(6)]
    smtp.refuse = {"p4@example.com"}
    smtp.busy = 2
    broadcast = send(email_broadcast(account, people))
    assert (broadcast.sent, broadcast.failed) == (5, 1)
    received = smtp.message_ids()
    assert len(received) == len(set(received)) == 5
    assert_adds_up(broadcast)


def test_it_never_hands_an_email_over_twice(account, smtp):
    """A key handed over before (a worker died before its outcome was committed) is skipped."""
    ana = make_profile(account, "Ana", emails=["ana@example.com"])
    broadcast = email_broadcast(account, [ana])
    HandOff.objects.create(key=f"{broadcast.pk}:{ana.pk}")
    broadcast = send(broadcast)
    assert smtp.messages == [] and broadcast.sent == 1


def outgoing(broadcast, profiles) -> list[Outgoing]:
    return [
        Outgoing(
            broadcast_id=broadcast.pk,
            profile_id=p.pk,
            channel="EMAIL",
            sender="news@acme.example",
            destination=f"{p.first_name.lower()}@example.com",
            subject="Spring sale",
            text="20% off",
        )
        for p in profiles
    ]


def test_it_never_hands_a_claimed_round_over_twice(account, smtp):
    """A round claimed by a worker that died before handing it over is lost, not sent twice; a
    repeated hand-off of a whole chunk sends nothing it sent before."""
    people = [make_profile(account, f"P{i}", emails=[f"p{i}@example.com"]) for i in range(5)]
    broadcast = email_broadcast(account, people)
    messages = outgoing(broadcast, people)
    died = {m.key for m in messages[:3]}
    assert handoff_claim(keys=sorted(died)) == died
    assert SmtpChannel().send(messages) == {}
    assert SmtpChannel().send(messages) == {}
    assert handoff_claim(keys=[m.key for m in messages]) == set()
    expected = {f"<{broadcast.pk}.{p.pk}.audience@acme.example>" for p in people[3:]}
    assert sorted(smtp.message_ids()) == sorted(expected)


def test_it_spreads_a_chunk_over_parallel_connections_each_message_id_once(account, smtp, settings):
    settings.SMTP_CONNECTIONS = 3
    people = [make_profile(account, f"P{i}", emails=[f"p{i}@example.com"]) for i in range(320)]
    smtp.refuse = {"p7@example.com"}
    broadcast = send(email_broadcast(account, people))
    assert (broadcast.sent, broadcast.failed) == (319, 1)
    failed = broadcast.messages.get(status=MessageStatus.FAILED)
    assert failed.profile_id == people[7].pk and failed.error.startswith("550 5.1.1")
    received = smtp.message_ids()
    assert len(received) == len(set(received)) == 319
    assert set(received) == {
        f"<{broadcast.pk}.{p.pk}.audience@acme.example>" for p in people if p != people[7]
    }
    assert len(smtp.peers) == 3  # three connections, each used for its share of every round
    assert HandOff.objects.count() == 320
    assert_adds_up(broadcast)


def test_it_escapes_merge_fields_in_html_only(account, smtp):
    ana = make_profile(account, "<b>Ana</b>", emails=["ana@example.com"])
    send(email_broadcast(account, [ana], text="Hi {{ first_name }}", html="<p>{{ first_name }}</p>"))
    parts = bodies(smtp.messages[0])
    assert parts["text/html"].strip() == "<p>&lt;b&gt;Ana&lt;/b&gt;</p>"
    assert parts["text/plain"].strip() == "Hi <b>Ana</b>"


def test_it_sends_sms_through_the_official_infobip_client(account, infobip):
    ana = make_profile(account, "Ana", phones=["+385912345678"])
    broadcast = send(broadcast_for(account, [ana], sender="ACME", text="Hi {{ first_name }}"))
    assert (broadcast.sent, broadcast.failed) == (1, 0)
    (request,) = infobip.requests
    assert request["path"] == "/sms/3/messages"
    assert request["headers"]["Authorization"] == "App secret-key"
    (message,) = request["json"]["messages"]
    assert message["sender"] == "ACME"
    assert message["destinations"] == [{"to": "385912345678", "messageId": f"{broadcast.pk}:{ana.pk}"}]
    assert message["content"] == {"text": "Hi Ana"}


def test_it_fails_the_sms_infobip_rejects_and_retries_a_5xx(account, infobip):
    ana = make_profile(account, "Ana", phones=["+385912345678"])
    ben = make_profile(account, "Ben", phones=["+385912345679"])
    infobip.errors = [503, 502]
    infobip.reject = {"385912345679"}
    broadcast = send(broadcast_for(account, [ana, ben]))
    assert (broadcast.sent, broadcast.failed) == (1, 1)
    assert "Invalid destination address" in broadcast.messages.get(profile=ben).error
    assert len(infobip.requests) == 1  # the two 5xx answers were not recorded as requests
    assert_adds_up(broadcast)


def test_it_fails_the_batch_when_infobip_refuses_the_request(account, infobip, settings):
    settings.SEND_ATTEMPTS = 2
    ana = make_profile(account, "Ana", phones=["+385912345678"])
    infobip.errors = [503, 503, 503]
    broadcast = send(broadcast_for(account, [ana]))
    assert (broadcast.sent, broadcast.failed, broadcast.status) == (0, 1, "done")
    assert "503" in broadcast.messages.get().error


@pytest.mark.parametrize(
    ("channel", "infobip_channel", "sender", "sent_as"),
    [("WHATSAPP", "WHATSAPP", "+441134960000", "441134960000"), ("VIBER", "VIBER_BM", "ACME", "ACME")],
)
def test_it_sends_whatsapp_and_viber_through_infobips_messages_api(
    account, infobip, channel, infobip_channel, sender, sent_as
):
    ana = make_profile(account, "Ana", phones=["+385912345678"])
    ben = make_profile(account, "Ben", phones=["+385912345679"])
    whatsapp_wrote(account, ana, ben)  # inside WhatsApp's 24-hour window: free-form text
    infobip.errors = [503]  # retried
    infobip.reject = {"385912345679"}
    broadcast = send(
        broadcast_for(account, [ana, ben], channel=channel, sender=sender, text="Hi {{ first_name }}")
    )
    assert (broadcast.sent, broadcast.failed) == (1, 1)
    assert "Invalid destination address" in broadcast.messages.get(profile=ben).error
    (request,) = infobip.requests
    assert request["path"] == "/messages-api/1/messages"
    assert request["headers"]["Authorization"] == "App secret-key"
    first = request["json"]["messages"][0]
    assert (first["channel"], first["sender"]) == (infobip_channel, sent_as)
    assert first["destinations"] == [{"to": "385912345678", "messageId": f"{broadcast.pk}:{ana.pk}"}]
    assert first["content"] == {"body": {"type": "TEXT", "text": "Hi Ana"}}
    assert_adds_up(broadcast)
    # A repeated hand-off carries the same message ids: Infobip sees the same messages again.
    from communications.channels.infobip import InfobipMessagesChannel

    again = Outgoing(broadcast.pk, ana.pk, channel, sent_as, "+385912345678", "Hi Ana")
    assert InfobipMessagesChannel().send([again]) == {}
    assert infobip.message_ids() == [f"{broadcast.pk}:{ana.pk}", f"{broadcast.pk}:{ben.pk}"] + [again.key]


def test_whatsapp_takes_the_configured_sender_and_fails_without_one(account, infobip, settings):
    ana = make_profile(account, "Ana", phones=["+385912345678"])
    whatsapp_wrote(account, ana)
    broadcast = send(broadcast_for(account, [ana], channel="WHATSAPP"))
    assert broadcast.failed == 1 and "INFOBIP_WHATSAPP_SENDER" in broadcast.messages.get().error
    assert infobip.requests == []
    settings.INFOBIP_WHATSAPP_SENDER = "441134960000"
    broadcast = send(broadcast_for(account, [ana], channel="WHATSAPP"))
    assert broadcast.sent == 1
    assert infobip.requests[0]["json"]["messages"][0]["sender"] == "441134960000"


def test_a_whatsapp_delivery_report_moves_the_message_like_an_sms_one(account, infobip):
    from communications import webhooks
    from tests.communications.webhook_helpers import post_json, reports_url

    token = webhooks.webhook_token_rotate(account=account, user=None)
    ana = make_profile(account, "Ana", phones=["+385912345678"])
    whatsapp_wrote(account, ana)
    broadcast = send(broadcast_for(account, [ana], channel="WHATSAPP", sender="+441134960000"))
    # The Messages API's delivery report: the same messageId and status, and a channel and event.
    report = {
        "event": "DELIVERY",
        "channel": "WHATSAPP",
        "sender": "441134960000",
        "destination": "385912345678",
        "messageId": f"{broadcast.pk}:{ana.pk}",
        "sentAt": "2026-12-01T09:59:58.000+0000",
        "doneAt": "2026-12-01T10:00:00.000+0000",
        "messageCount": 1,
        "status": {
            "groupId": 3,
            "groupName": "DELIVERED",
            "id": 5,
            "name": "DELIVERED_TO_HANDSET",
            "description": "Message delivered to handset",
        },
    }
    assert post_json(reports_url(token), {"results": [report]}).status_code == 200
    assert broadcast.messages.get().status == MessageStatus.DELIVERED


def test_it_posts_signed_batches_to_the_webhook(account, gateway):
    ana = make_profile(account, "Ana", phones=["+385912345678"])
    gateway.errors = [500]  # retried
    broadcast = send(broadcast_for(account, [ana], channel="VIBER", text="Hi {{ first_name }}"))
    assert broadcast.sent == 1
    (request,) = gateway.requests
    headers = request["headers"]
    expected = hmac.new(
        b"shh", headers["X-Audience-Timestamp"].encode() + b"." + request["body"], hashlib.sha256
    )
    assert headers["X-Audience-Signature"] == f"sha256={expected.hexdigest()}"
    assert request["json"]["messages"][0] | {"html": ""} == {
        "key": f"{broadcast.pk}:{ana.pk}",
        "channel": "VIBER",
        "from": "",
        "to": "+385912345678",
        "subject": "",
        "text": "Hi Ana",
        "html": "",
        "unsubscribe_url": "",
        "template": None,
    }


def test_the_embedded_default_keeps_each_message_in_the_outbox_once(account, channels):
    ana = make_profile(account, "Ana", emails=["ana@example.com"])
    broadcast = send(email_broadcast(account, [ana]))
    (row,) = OutboxMessage.objects.filter(broadcast=broadcast)
    assert (row.destination, row.subject, row.sender) == ("ana@example.com", "Hello Ana", "news@acme.example")
    assert row.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    from communications.backends import Outgoing
    from communications.channels.outbox import OutboxChannel

    again = Outgoing(broadcast.pk, ana.pk, "EMAIL", "", "ana@example.com", "x", account_id=account.pk)
    assert OutboxChannel().send([again]) == {}
    assert OutboxMessage.objects.filter(broadcast=broadcast).count() == 1


def test_it_encodes_unicode_long_lines_and_leading_dots_as_django_would(account, smtp):
    """The bytes built once a sender and filled a message read back as the message: an encoded
    Unicode subject and From name, 8bit Unicode text, a line over 998 bytes in quoted-printable,
    and a line that starts with a dot (dot-stuffed on the wire, restored by the server)."""
    ana = make_profile(account, "Šime", emails=["sime@example.com"])
    long_line = "ž" * 600  # 1,200 bytes in UTF-8
    sender_for(account, "EMAIL", "news@acme.example")
    Sender.objects.filter(address="news@acme.example").update(label="Akcija d.o.o. – ponude")
    broadcast = send(
        broadcast_for(
            account,
            [ana],
            channel="EMAIL",
            sender="news@acme.example",
            subject="Popust za {{ first_name }} — 20 %",
            text="Bok {{ first_name }},\n.točka na početku\n" + long_line,
            html="<p>{{ first_name }}</p>",
        )
    )
    assert (broadcast.sent, broadcast.failed) == (1, 0)
    (mail,) = smtp.messages
    assert str(make_header(decode_header(mail["Subject"]))) == "Popust za Šime — 20 %"
    assert str(make_header(decode_header(mail["From"]))) == "Akcija d.o.o. – ponude <news@acme.example>"
    parts = bodies(mail)
    assert parts["text/plain"].splitlines() == ["Bok Šime,", ".točka na početku", long_line]
    assert parts["text/html"].strip() == "<p>Šime</p>"
    (text_part,) = [p for p in mail.walk() if p.get_content_type() == "text/plain"]
    assert text_part["Content-Transfer-Encoding"] == "quoted-printable"
