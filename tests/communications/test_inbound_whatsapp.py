"""Messages from end users posted to the account's inbound-WhatsApp webhook: the same words as
SMS, the same code path — STOP puts the number on Do Not Contact for WhatsApp from the number it
wrote to (audited, source "Message from the end user"), START takes it off, a confirmation reply
goes back on WhatsApp (through Infobip's client to a local server), other text answers a flow's
"wait for a reply"."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from communications import flows, inbound, webhooks
from communications.models import (
    FlowRun,
    FlowStatus,
    InboundAction,
    InboundMessage,
    MessageStatus,
    ReplyStatus,
    RunState,
    StepKind,
    WebhookBatch,
)
from dnc import services as dnc_services
from dnc.models import AuditAction, DncAudit, DncEntryAccount, Source
from tags import services as tag_services
from tags.models import ProfileTag
from tests.communications.conftest import block, broadcast_for, make_profile, send
from tests.communications.servers import HttpRecorder
from tests.communications.webhook_helpers import inbound as sms
from tests.communications.webhook_helpers import (
    inbound_body,
    inbound_url,
    inbound_whatsapp_url,
    load,
    post_json,
)
from tests.communications.webhook_helpers import inbound_whatsapp as wa

ANA = "+385912345678"
OUR_WHATSAPP = "+441134960000"


@pytest.fixture
def token(account):
    return webhooks.webhook_token_rotate(account=account, user=None)


def just_now() -> str:
    """A receivedAt inside WhatsApp's 24-hour window."""
    return timezone.now().strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def blocked(account, channel="WHATSAPP", number=ANA, sender=OUR_WHATSAPP) -> bool:
    return dnc_services.dnc_is_blocked(account=account, channel=channel, sender=sender, destination=number)


def entries(account) -> list[tuple]:
    return list(
        DncEntryAccount.objects.filter(account=account).values_list("value", "channel", "sender", "source")
    )


def audits(account) -> list[tuple]:
    return list(
        DncAudit.objects.filter(account_id=account.pk)
        .order_by("pk")
        .values_list("action", "channel", "sender", "source", "how")
    )


@pytest.mark.parametrize("text", ["STOP", " stop ", "Unsubscribe", "QUIT", "end"])
def test_a_stop_word_puts_the_number_on_the_list_for_whatsapp_from_that_number(account, token, text):
    response = post_json(inbound_whatsapp_url(token), inbound_body([wa("w1", "385912345678", text)]))
    assert response.status_code == 200 and load(response)["results"] == 1
    assert entries(account) == [(ANA, "WHATSAPP", OUR_WHATSAPP, Source.MO)]
    assert blocked(account)
    assert not blocked(account, channel="SMS")  # an opt-out on WhatsApp is not one on SMS
    assert not blocked(account, sender="+441134960001")  # another WhatsApp number may still write
    assert audits(account) == [(AuditAction.ADD, "WHATSAPP", OUR_WHATSAPP, Source.MO, "source")]
    message = InboundMessage.objects.get()
    assert (message.channel, message.word, message.action) == ("WHATSAPP", "stop", InboundAction.OPTED_OUT)


def test_start_on_whatsapp_takes_it_off_and_each_channel_keeps_its_own_answer(account, token):
    post_json(
        inbound_whatsapp_url(token),
        inbound_body([wa("w1", "385912345678", "STOP", at="2026-12-01T10:00:00Z")]),
    )
    # The same number texts START by SMS to the same number: that is no START on WhatsApp.
    post_json(
        inbound_url(token),
        inbound_body([sms("s1", "385912345678", "START", to="441134960000", at="2026-12-01T11:00:00Z")]),
    )
    assert blocked(account)
    assert InboundMessage.objects.get(message_id="s1").action == InboundAction.NONE
    # An SMS STOP received later does not overtake the WhatsApp START below: other channel.
    post_json(
        inbound_url(token),
        inbound_body([sms("s2", "385912345678", "STOP", to="441134960000", at="2026-12-01T13:00:00Z")]),
    )
    post_json(
        inbound_whatsapp_url(token),
        inbound_body([wa("w2", "385912345678", "unstop", at="2026-12-01T12:00:00Z")]),
    )
    assert not blocked(account)
    assert blocked(account, channel="SMS")
    assert InboundMessage.objects.get(message_id="w2").action == InboundAction.OPTED_IN
    assert audits(account) == [
        (AuditAction.ADD, "WHATSAPP", OUR_WHATSAPP, Source.MO, "source"),
        (AuditAction.ADD, "SMS", OUR_WHATSAPP, Source.MO, "source"),
        (AuditAction.REMOVE, "WHATSAPP", OUR_WHATSAPP, Source.MO, "source"),
    ]


def test_the_latest_word_received_on_whatsapp_decides_whatever_order_they_arrive_in(account, token):
    post_json(
        inbound_whatsapp_url(token),
        inbound_body(
            [
                wa("w2", "385912345678", "START", at="2026-12-01T11:00:00Z"),
                wa("w1", "385912345678", "STOP", at="2026-12-01T10:00:00Z"),
            ]
        ),
    )
    assert not blocked(account) and entries(account) == []
    assert InboundMessage.objects.get(message_id="w1").action == InboundAction.SUPERSEDED


def test_an_accounts_own_words_work_on_whatsapp(account, token):
    inbound.inbound_settings_save(
        account=account,
        user=None,
        stop_words="ODJAVA",
        start_words="PRIJAVA",
        reply_stop="",
        reply_start="",
        reply_help="",
    )
    post_json(inbound_whatsapp_url(token), inbound_body([wa("w1", "385912345678", "odjava")]))
    assert blocked(account)
    post_json(
        inbound_whatsapp_url(token),
        inbound_body([wa("w2", "385912345678", "Prijava", at="2026-12-02T10:00:00Z")]),
    )
    assert not blocked(account)


def test_a_message_without_text_or_from_a_number_that_is_not_a_phone_changes_nothing(account, token):
    image = wa("w1", "385912345678", "")
    image["message"] = {"type": "IMAGE", "url": "https://example.com/a.jpg"}
    post_json(inbound_whatsapp_url(token), inbound_body([image, wa("w2", "InfoWA", "STOP")]))
    assert entries(account) == []
    actions = dict(InboundMessage.objects.values_list("message_id", "action"))
    assert actions == {"w1": InboundAction.NONE, "w2": InboundAction.INVALID}


def test_the_opt_out_names_the_last_whatsapp_broadcast_and_stops_the_next_one(account, token):
    ana = make_profile(account, "Ana", phones=[ANA])
    post_json(
        inbound_whatsapp_url(token), inbound_body([wa("w0", "385912345678", "Hi!", at=just_now())])
    )  # the window
    first = send(broadcast_for(account, [ana], channel="WHATSAPP", sender=OUR_WHATSAPP))
    assert first.sent == 1
    # A later SMS broadcast from another name is not what a WhatsApp STOP answers.
    later_sms = broadcast_for(account, [ana], sender="38598765432")
    later_sms.name = "SMS only"
    later_sms.save(update_fields=["name"])
    send(later_sms)
    post_json(inbound_whatsapp_url(token), inbound_body([wa("w1", "385912345678", "STOP", at=just_now())]))
    row = DncEntryAccount.objects.get(account=account)
    assert (row.channel, row.source, row.campaign) == ("WHATSAPP", Source.MO, "Spring sale")
    again = send(broadcast_for(account, [ana], channel="WHATSAPP", sender=OUR_WHATSAPP))
    assert (again.sent, again.blocked_dnc) == (0, 1)
    assert again.messages.get().status == MessageStatus.BLOCKED_DNC


def test_the_dnc_screen_and_the_profile_card_show_a_whatsapp_opt_out(
    owner_client, viewer_client, account, token
):
    ana = make_profile(account, "Ana", phones=[ANA])
    post_json(inbound_whatsapp_url(token), inbound_body([wa("w0", "385912345678", "Hi!", at=just_now())]))
    send(broadcast_for(account, [ana], channel="WHATSAPP", sender=OUR_WHATSAPP))
    post_json(inbound_whatsapp_url(token), inbound_body([wa("w1", "385912345678", "STOP")]))
    dnc_list = reverse("dnc:list")
    for query in ({"source": "MO"}, {"campaign": "spring"}, {"channel": "WHATSAPP"}):
        assert ANA in owner_client.get(dnc_list, query).text, query
    assert ANA not in owner_client.get(dnc_list, {"source": "IMPORT"}).text
    assert ANA not in owner_client.get(dnc_list, {"campaign": "winter"}).text
    panel = viewer_client.get(reverse("communications:profile_panel", args=[ana.pk]), HTTP_HX_REQUEST="true")
    opt_outs = panel.text.split('data-testid="profile-opt-outs"')[1]
    assert "Opted out" in opt_outs and f"WHATSAPP, from sender {OUR_WHATSAPP}" in opt_outs
    assert "Message from the end user, campaign “Spring sale”" in opt_outs


def test_a_wrong_or_old_secret_is_refused_and_writes_nothing(account, token):
    body = inbound_body([wa("w1", "385912345678", "STOP")])
    assert post_json(inbound_whatsapp_url("guess"), body).status_code == 404
    assert post_json(inbound_whatsapp_url(token[:-1]), body).status_code == 404
    webhooks.webhook_token_rotate(account=account, user=None)
    assert post_json(inbound_whatsapp_url(token), body).status_code == 404
    assert not WebhookBatch.objects.exists() and not InboundMessage.objects.exists()
    assert entries(account) == []


# --- replies, through Infobip's client to a local server ------------------------------------------


@pytest.fixture
def infobip(settings):
    settings.COMMUNICATIONS_BACKEND = ""
    settings.EMAIL_HOST = settings.COMMUNICATIONS_WEBHOOK_URL = ""
    settings.SEND_RETRY_MS = 10
    server = HttpRecorder()
    settings.INFOBIP_BASE_URL, settings.INFOBIP_API_KEY = server.url, "secret-key"
    yield server
    server.stop()


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


def test_a_stop_is_confirmed_on_whatsapp_as_free_form_text(account, token, replies, infobip):
    post_json(inbound_whatsapp_url(token), inbound_body([wa("w1", "385912345678", "STOP")]))
    # The person just wrote: the reply is inside the 24-hour window, text and not a template.
    assert [r["path"] for r in infobip.requests] == ["/messages-api/1/messages"]
    assert infobip.requests[0]["json"]["messages"] == [
        {
            "channel": "WHATSAPP",
            "sender": "441134960000",
            "destinations": [{"to": "385912345678", "messageId": f"reply:{account.pk}:w1"}],
            "content": {"body": {"type": "TEXT", "text": replies.reply_stop}},
        }
    ]
    assert InboundMessage.objects.get().reply_status == ReplyStatus.SENT


def test_help_and_start_are_answered_only_when_the_number_is_not_blocked_for_whatsapp(
    account, token, replies, infobip
):
    block([account], ANA, channel="WHATSAPP")  # added by hand, every sender: START can't lift it
    post_json(
        inbound_whatsapp_url(token),
        inbound_body(
            [wa("w1", "385912345678", "HELP"), wa("w2", "385912345678", "START", at="2026-12-01T10:01:00Z")]
        ),
    )
    assert infobip.requests == []
    assert set(InboundMessage.objects.values_list("reply_status", flat=True)) == {ReplyStatus.BLOCKED}
    # Blocked for SMS only: a WhatsApp HELP is answered on WhatsApp.
    block([account], "+385911111111", channel="SMS")
    post_json(inbound_whatsapp_url(token), inbound_body([wa("w3", "385911111111", "info")]))
    (request,) = infobip.requests
    assert request["json"]["messages"][0]["content"]["body"]["text"] == replies.reply_help
    assert request["json"]["messages"][0]["channel"] == "WHATSAPP"


# --- a flow's "wait for a reply" ------------------------------------------------------------------


def test_a_whatsapp_reply_moves_a_waiting_flow_on_and_a_stop_does_not(account, token, memory_backend):
    from audience.selection import Selection
    from communications import services

    ana = make_profile(account, "Ana", phones=[ANA])
    ben = make_profile(account, "Ben", phones=["+385912345679"])
    yes = tag_services.tag_get_or_create(account=account, name="Said yes")
    flow = services.flow_create(
        account=account,
        user=None,
        name="Ask",
        audience=services.AudienceSpec(selections=[Selection(ids=[ana.pk, ben.pk])]),
    )
    flows.flow_step_add(flow=flow, kind=StepKind.WAIT_REPLY, config={"amount": 30, "unit": "days"})
    leave = flows.flow_step_add(flow=flow, kind=StepKind.EXIT, config={})
    tagging = flows.flow_step_add(flow=flow, kind=StepKind.ADD_TAG, config={"tag": yes.pk})
    branch = flows.flow_step_add(
        flow=flow,
        kind=StepKind.BRANCH,
        config={"reply_contains": "yes", "then": tagging.pk, "else": leave.pk},
    )
    flows.flow_step_move(step=branch, up=True)
    flows.flow_step_move(step=branch, up=True)
    start = timezone.now()
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE, now=start)
    flows.flow_runs_due(now=start)
    post_json(
        inbound_whatsapp_url(token),
        inbound_body([wa("w1", "385912345678", "Yes please"), wa("w2", "385912345679", "STOP")]),
    )
    runs = {run.profile_id: run for run in FlowRun.objects.filter(flow=flow)}
    assert runs[ana.pk].reply == "Yes please"
    assert (runs[ben.pk].state, runs[ben.pk].reply) == (RunState.WAITING, "")  # an opt-out, not a reply
    assert blocked(account, number="+385912345679")
    flows.flow_runs_due(now=timezone.now())
    assert list(ProfileTag.objects.filter(tag=yes).values_list("profile_id", flat=True)) == [ana.pk]
