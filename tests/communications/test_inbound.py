"""Messages from end users posted to the account's inbound-SMS webhook: STOP words put the
number on Do Not Contact (audited, source "Message from the end user"), START takes it off,
HELP changes nothing; confirmation replies go out through the channel backend."""

from __future__ import annotations

import pytest
from django.urls import reverse

from communications import inbound, webhooks
from communications.models import InboundAction, InboundMessage, OutboxMessage, ReplyStatus, WebhookBatch
from dnc import services as dnc_services
from dnc.models import AuditAction, DncAudit, DncEntryAccount, Source
from tests.communications.conftest import block, broadcast_for, make_profile, send
from tests.communications.webhook_helpers import inbound as mo
from tests.communications.webhook_helpers import inbound_body, inbound_url, load, post_json

ANA = "+385912345678"
OUR_NUMBER = "+38598765432"


@pytest.fixture
def token(account):
    return webhooks.webhook_token_rotate(account=account, user=None)


def blocked(account, number=ANA, sender=OUR_NUMBER) -> bool:
    return dnc_services.dnc_is_blocked(account=account, channel="SMS", sender=sender, destination=number)


def entries(account) -> list[tuple]:
    return list(
        DncEntryAccount.objects.filter(account=account).values_list("value", "channel", "sender", "source")
    )


@pytest.mark.parametrize(
    "text", ["STOP", "stop", "  Stop \n", "STOPALL", "unsubscribe", "Cancel", "END", "quit"]
)
def test_a_stop_word_puts_the_number_on_the_list_for_sms_from_that_sender(account, token, text):
    response = post_json(inbound_url(token), inbound_body([mo("m1", "385912345678", text)]))
    assert response.status_code == 200 and load(response)["results"] == 1
    assert entries(account) == [(ANA, "SMS", OUR_NUMBER, Source.MO)]
    assert blocked(account)
    assert not blocked(account, sender="+38511111111")  # another of our numbers may still write
    audit = DncAudit.objects.get(account_id=account.pk)
    assert (audit.action, audit.source, audit.how, audit.value) == (AuditAction.ADD, Source.MO, "source", ANA)
    assert InboundMessage.objects.get().action == InboundAction.OPTED_OUT


@pytest.mark.parametrize("text", ["STOP please", "I want to stop", "STOP!", ""])
def test_a_message_that_only_contains_a_stop_word_changes_nothing(account, token, text):
    post_json(inbound_url(token), inbound_body([mo("m1", "385912345678", text)]))
    assert entries(account) == []
    assert InboundMessage.objects.get().action == InboundAction.NONE


@pytest.mark.parametrize("text", ["START", "unstop"])
def test_start_takes_the_number_off_again_and_is_audited(account, token, text):
    post_json(inbound_url(token), inbound_body([mo("m1", "385912345678", "STOP", at="2026-12-01T10:00:00Z")]))
    post_json(inbound_url(token), inbound_body([mo("m2", "385912345678", text, at="2026-12-01T11:00:00Z")]))
    assert entries(account) == []
    assert not blocked(account)
    actions = list(
        DncAudit.objects.filter(account_id=account.pk).order_by("pk").values_list("action", "source")
    )
    assert actions == [(AuditAction.ADD, Source.MO), (AuditAction.REMOVE, Source.MO)]
    assert InboundMessage.objects.get(message_id="m2").action == InboundAction.OPTED_IN


def test_start_leaves_an_entry_someone_added_by_hand_for_every_sender(account, token):
    block([account], ANA, channel="SMS")
    post_json(inbound_url(token), inbound_body([mo("m1", "385912345678", "START")]))
    assert entries(account) == [(ANA, "SMS", "", Source.CUSTOM)]
    assert InboundMessage.objects.get().action == InboundAction.NONE


@pytest.mark.parametrize("text", ["HELP", "info"])
def test_help_never_changes_consent(account, token, text):
    post_json(inbound_url(token), inbound_body([mo("m1", "385912345678", "STOP", at="2026-12-01T10:00:00Z")]))
    post_json(inbound_url(token), inbound_body([mo("m2", "385912345678", text, at="2026-12-01T11:00:00Z")]))
    assert blocked(account)
    assert InboundMessage.objects.get(message_id="m2").action == InboundAction.NONE


def test_an_accounts_own_words_work_and_only_for_that_account(account, other_account, token):
    inbound.inbound_settings_save(
        account=account,
        user=None,
        stop_words="odjava, Stopp",
        start_words="PRIJAVA",
        reply_stop="",
        reply_start="",
        reply_help="",
    )
    theirs = webhooks.webhook_token_rotate(account=other_account, user=None)
    post_json(inbound_url(token), inbound_body([mo("m1", "385912345678", "Odjava")]))
    post_json(inbound_url(theirs), inbound_body([mo("m1", "385912345678", "ODJAVA")]))
    assert blocked(account)
    assert not blocked(other_account)
    post_json(
        inbound_url(token), inbound_body([mo("m2", "385912345678", "prijava", at="2026-12-02T10:00:00Z")])
    )
    assert not blocked(account)


def test_a_message_posted_twice_is_handled_once(account, token):
    body = inbound_body([mo("m1", "385912345678", "STOP")])
    post_json(inbound_url(token), body)
    post_json(inbound_url(token), body)
    assert InboundMessage.objects.count() == 1
    assert DncAudit.objects.filter(account_id=account.pk).count() == 1
    first, second = WebhookBatch.objects.order_by("pk")
    assert (first.applied, second.applied, second.repeated, second.status) == (1, 0, 1, "done")


def test_the_latest_word_received_decides_whatever_order_they_arrive_in(account, token):
    # START received after STOP, but posted first (the provider retried the STOP later).
    post_json(
        inbound_url(token), inbound_body([mo("m2", "385912345678", "START", at="2026-12-01T11:00:00Z")])
    )
    post_json(inbound_url(token), inbound_body([mo("m1", "385912345678", "STOP", at="2026-12-01T10:00:00Z")]))
    assert not blocked(account)
    assert InboundMessage.objects.get(message_id="m1").action == InboundAction.SUPERSEDED
    # Both in one request, out of order: the later STOP wins.
    post_json(
        inbound_url(token),
        inbound_body(
            [
                mo("m4", "385912345678", "STOP", at="2026-12-01T13:00:00Z"),
                mo("m3", "385912345678", "START", at="2026-12-01T12:00:00Z"),
            ]
        ),
    )
    assert blocked(account)
    assert InboundMessage.objects.get(message_id="m3").action == InboundAction.SUPERSEDED


def test_the_opt_out_names_the_last_broadcast_that_reached_the_number(account, token):
    ana = make_profile(account, "Ana", phones=[ANA])
    send(broadcast_for(account, [ana], sender="38598765432"))
    post_json(inbound_url(token), inbound_body([mo("m1", "385912345678", "STOP")]))
    row = DncEntryAccount.objects.get(account=account)
    assert (row.source, row.campaign) == (Source.MO, "Spring sale")


def test_a_sender_that_is_not_a_phone_number_changes_nothing(account, token):
    post_json(inbound_url(token), inbound_body([mo("m1", "InfoSMS", "STOP")]))
    assert entries(account) == []
    assert InboundMessage.objects.get().action == InboundAction.INVALID


def test_a_wrong_or_missing_secret_is_refused_and_writes_nothing(account, token):
    body = inbound_body([mo("m1", "385912345678", "STOP")])
    assert post_json(inbound_url("guess"), body).status_code == 404
    assert post_json(inbound_url(token[:-1]), body).status_code == 404
    assert post_json("/webhooks/inbound-sms/", body).status_code == 404
    assert not WebhookBatch.objects.exists() and not InboundMessage.objects.exists()
    assert entries(account) == []


def test_an_old_secret_stops_working_when_a_new_one_is_made(account, token):
    webhooks.webhook_token_rotate(account=account, user=None)
    assert post_json(inbound_url(token), inbound_body([mo("m1", "385912345678", "STOP")])).status_code == 404


def test_it_refuses_a_body_that_is_not_inbound_sms(token):
    response = post_json(inbound_url(token), {"results": [{"messageId": "m1", "text": "STOP"}]})
    assert response.status_code == 400
    assert load(response)["error"] == "results[0].from: missing."
    from django.test import Client

    bad = Client().post(inbound_url(token), data="STOP", content_type="application/json")
    assert bad.status_code == 400 and "not JSON" in load(bad)["error"]
    assert not WebhookBatch.objects.exists()


def test_only_post_is_accepted(token):
    from django.test import Client

    assert Client().get(inbound_url(token)).status_code == 405


# --- replies ---------------------------------------------------------------------------------------


@pytest.fixture
def replies(account):
    return inbound.inbound_settings_save(
        account=account,
        user=None,
        stop_words="",
        start_words="",
        reply_stop="You will get no more messages. Reply START to come back.",
        reply_start="Welcome back.",
        reply_help="Acme: reply STOP to opt out.",
    )


def test_it_confirms_a_stop_even_though_the_number_is_now_blocked(account, token, replies, memory_backend):
    post_json(inbound_url(token), inbound_body([mo("m1", "385912345678", "STOP")]))
    assert [(m.destination, m.sender, m.text, m.key) for m in memory_backend.outbox] == [
        (ANA, OUR_NUMBER, replies.reply_stop, f"reply:{account.pk}:m1")
    ]
    assert InboundMessage.objects.get().reply_status == ReplyStatus.SENT


def test_a_reply_goes_to_the_sandbox_outbox_when_no_provider_is_configured(
    account, token, replies, settings, owner_client
):
    # The embedded default: no COMMUNICATIONS_BACKEND, no SMS provider, no webhook gateway.
    settings.COMMUNICATIONS_BACKEND = ""
    settings.INFOBIP_BASE_URL = settings.COMMUNICATIONS_WEBHOOK_URL = ""
    post_json(inbound_url(token), inbound_body([mo("m1", "385912345678", "STOP")]))
    kept = OutboxMessage.objects.get()
    assert (kept.account_id, kept.broadcast_id, kept.channel, kept.destination, kept.sender, kept.text) == (
        account.pk,
        None,
        "SMS",
        ANA,
        OUR_NUMBER,
        replies.reply_stop,
    )
    assert InboundMessage.objects.get().reply_status == ReplyStatus.SENT
    page = owner_client.get(reverse("communications:outbox"))
    assert page.status_code == 200 and "Reply to an inbound message" in page.content.decode()


def test_it_answers_help_and_start_only_when_the_number_is_not_blocked(
    account, token, replies, memory_backend
):
    block([account], ANA)  # every channel, every sender, added by hand: START can't lift it
    post_json(
        inbound_url(token),
        inbound_body(
            [mo("m1", "385912345678", "HELP"), mo("m2", "385912345678", "START", at="2026-12-01T10:01:00Z")]
        ),
    )
    assert memory_backend.outbox == []
    assert set(InboundMessage.objects.values_list("reply_status", flat=True)) == {ReplyStatus.BLOCKED}
    post_json(inbound_url(token), inbound_body([mo("m3", "385911111111", "HELP")]))
    assert [m.text for m in memory_backend.outbox] == [replies.reply_help]


def test_it_sends_no_reply_when_the_account_set_none(account, token, memory_backend):
    post_json(
        inbound_url(token), inbound_body([mo("m1", "385912345678", "STOP"), mo("m2", "385911111111", "HELP")])
    )
    assert memory_backend.outbox == []
    assert set(InboundMessage.objects.values_list("reply_status", flat=True)) == {ReplyStatus.NONE}


def test_a_reply_the_provider_refuses_is_failed_with_its_reason(account, token, replies, memory_backend):
    memory_backend.failing = {ANA}
    post_json(inbound_url(token), inbound_body([mo("m1", "385912345678", "STOP")]))
    message = InboundMessage.objects.get()
    assert (message.reply_status, message.reply_error) == (
        ReplyStatus.FAILED,
        "The provider refused the destination.",
    )
    assert blocked(account)  # the opt-out stands


def test_a_reply_left_queued_by_a_dead_worker_is_sent_once_when_the_batch_runs_again(
    account, token, replies, memory_backend
):
    post_json(inbound_url(token), inbound_body([mo("m1", "385912345678", "STOP")]))
    # As if the worker died after handing the reply over and before recording it.
    InboundMessage.objects.update(reply_status=ReplyStatus.QUEUED)
    batch = WebhookBatch.objects.get()
    WebhookBatch.objects.filter(pk=batch.pk).update(status="running")
    webhooks.webhook_batch_run(batch_id=batch.pk)
    assert len(memory_backend.outbox) == 1 and len(memory_backend.dedups) == 1
    assert InboundMessage.objects.get().reply_status == ReplyStatus.SENT
    assert DncAudit.objects.filter(account_id=account.pk).count() == 1
    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.applied) == ("done", 1, 1)  # counted from its rows


def test_a_message_without_a_to_blocks_the_number_for_every_sender(account, token):
    result = mo("m1", "385912345678", "STOP")
    del result["to"]
    post_json(inbound_url(token), inbound_body([result]))
    assert entries(account) == [(ANA, "SMS", "", Source.MO)]
    assert blocked(account, sender="+38511111111")
