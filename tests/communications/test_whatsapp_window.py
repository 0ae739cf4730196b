"""WhatsApp's 24-hour window, through the real URLs: the broadcast form's template fields, the
inbound WhatsApp webhook that opens the window, and a send through Infobip's client to a local
server that records the free-form and the template requests."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from audience.selection import Selection
from communications import webhooks
from communications.models import Broadcast, InboundMessage, MessageStatus
from tests.communications.conftest import assert_adds_up, make_profile, sender_for
from tests.communications.servers import HttpRecorder
from tests.communications.webhook_helpers import post_json

SENDER = "+441134960000"


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
def people(account):
    sender_for(account, "WHATSAPP", SENDER)
    return {
        "ana": make_profile(account, "Ana", phones=["+385912345678"]),
        "ben": make_profile(account, "Ben", phones=["+385912345679"]),
        "cy": make_profile(account, "", phones=["+385912345670"]),
    }


def wrote(token: str, number: str, *, hours_ago: float, text: str = "Hi!") -> None:
    """The person at `number` wrote to our WhatsApp number, as Infobip posts it."""
    received = (timezone.now() - dt.timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    payload = {
        "results": [
            {
                "from": number.lstrip("+"),
                "to": SENDER.lstrip("+"),
                "integrationType": "WHATSAPP",
                "receivedAt": received,
                "messageId": f"wa-{number}-{hours_ago}",
                "message": {"type": "TEXT", "text": text},
                "contact": {"name": "Someone"},
            }
        ],
        "messageCount": 1,
        "pendingMessageCount": 0,
    }
    response = post_json(reverse("webhooks:inbound_whatsapp", args=[token]), payload)
    assert response.status_code == 200, response.text


def form_data(people, **extra) -> dict:
    selection = json.dumps(Selection(ids=[p.pk for p in people.values()]).to_json())
    return {
        "name": "Spring sale",
        "channel": "WHATSAPP",
        "sender": SENDER,
        "text": "Hi {{ first_name|default:'there' }}, 20% off",
        "selection": selection,
    } | extra


def create_and_send(client, people, **extra) -> Broadcast:
    response = client.post(reverse("communications:broadcast_new"), form_data(people, **extra))
    assert response.status_code == 302, response.text
    broadcast = Broadcast.objects.get()
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(reverse("communications:broadcast_send", args=[broadcast.pk]))
    broadcast.refresh_from_db()
    return broadcast


def test_the_form_names_what_is_wrong_with_a_template_next_to_its_field(teammate_client, people):
    url = reverse("communications:broadcast_new")
    response = teammate_client.post(
        url,
        form_data(people, wa_template="Spring Sale!", wa_placeholders="{{ first_name }}\n{% load static %}"),
    )
    assert response.status_code == 400
    assert "lower-case letters, digits and underscores only" in response.text
    assert "Choose the language the template was approved in" in response.text
    assert "Placeholder {{2}}: The template can&#x27;t be read" in response.text
    assert 'for="id_wa_template">WhatsApp template (outside the 24-hour window)</label>' in response.text
    response = teammate_client.post(url, form_data(people, wa_language="en"))
    assert response.status_code == 400 and "Name the template that the language" in response.text
    assert not Broadcast.objects.exists()


def test_people_outside_the_window_get_the_template_with_their_placeholders(
    owner_client, account, people, infobip
):
    token = webhooks.webhook_token_rotate(account=account, user=None)
    wrote(token, "+385912345678", hours_ago=2)  # Ana: inside the window
    wrote(token, "+385912345670", hours_ago=30)  # Cy: wrote, but too long ago
    assert InboundMessage.objects.filter(channel="WHATSAPP").count() == 2
    broadcast = create_and_send(
        owner_client,
        people,
        wa_template="spring_sale",
        wa_language="en_GB",
        wa_placeholders="{{ first_name|default:'there' }}\n\n20%",
    )
    assert (broadcast.sent, broadcast.failed, broadcast.outside_window) == (3, 0, 0)
    assert_adds_up(broadcast)
    by_path = {request["path"]: request["json"]["messages"] for request in infobip.requests}
    ana, ben, cy = people["ana"], people["ben"], people["cy"]
    (text,) = by_path["/messages-api/1/messages"]
    assert text["destinations"] == [{"to": "385912345678", "messageId": f"{broadcast.pk}:{ana.pk}"}]
    assert text["content"] == {"body": {"type": "TEXT", "text": "Hi Ana, 20% off"}}
    templates = by_path["/whatsapp/1/message/template"]
    assert templates == [
        {
            "from": "441134960000",
            "to": to,
            "messageId": f"{broadcast.pk}:{person.pk}",
            "content": {
                "templateName": "spring_sale",
                "templateData": {"body": {"placeholders": [name, "20%"]}},
                "language": "en_GB",
            },
        }
        for person, to, name in [(ben, "385912345679", "Ben"), (cy, "385912345670", "there")]
    ]
    assert infobip.requests[0]["headers"]["Authorization"] == "App secret-key"
    page = owner_client.get(broadcast.get_absolute_url())
    assert 'data-testid="wa-template">Template <code>spring_sale</code> (en_GB)' in page.text


def test_without_a_template_people_outside_the_window_are_skipped_and_listed(
    owner_client, account, people, infobip
):
    token = webhooks.webhook_token_rotate(account=account, user=None)
    wrote(token, "+385912345678", hours_ago=23)
    broadcast = create_and_send(owner_client, people)
    assert (broadcast.sent, broadcast.outside_window) == (1, 2)
    assert_adds_up(broadcast)
    assert [r["path"] for r in infobip.requests] == ["/messages-api/1/messages"]
    assert infobip.message_ids() == [f"{broadcast.pk}:{people['ana'].pk}"]
    statuses = dict(broadcast.messages.values_list("profile_id", "status"))
    assert statuses[people["ben"].pk] == statuses[people["cy"].pk] == MessageStatus.OUTSIDE_WINDOW
    page = owner_client.get(broadcast.get_absolute_url())
    assert "Outside WhatsApp&#x27;s 24-hour window, no template: 2 people" in page.text
    assert 'data-testid="count-outside-window">2<' in page.text
    assert "Ben" in page.text and people["ben"].get_absolute_url() in page.text
    assert "outside WhatsApp&#x27;s 24-hour window (no template)" in page.text


def test_the_inbound_whatsapp_webhook_refuses_a_wrong_secret_and_a_bad_body(account):
    token = webhooks.webhook_token_rotate(account=account, user=None)
    wrong = post_json(reverse("webhooks:inbound_whatsapp", args=["nope"]), {"results": []})
    assert wrong.status_code == 404
    bad = post_json(reverse("webhooks:inbound_whatsapp", args=[token]), {"results": [{"messageId": "1"}]})
    assert bad.status_code == 400 and "results[0].from" in bad.json()["error"]
    assert not InboundMessage.objects.exists()


# --- A flow's send step shares the broadcasts' content path --------------------------------------


def flow_of(people):
    from communications import services

    account = people["ana"].account
    return services.flow_create(
        account=account,
        user=None,
        name="Welcome",
        audience=services.AudienceSpec(selections=[Selection(ids=[p.pk for p in people.values()])]),
    )


def test_a_flow_send_step_takes_a_template_with_errors_at_its_fields(owner_client, people):
    flow = flow_of(people)
    url = reverse("communications:flow_step_add", args=[flow.pk])
    step = {"kind": "send", "channel": "WHATSAPP", "sender": SENDER, "text": "Hi {{ first_name }}"}
    refused = owner_client.post(url, step | {"wa_template": "welcome"})
    assert refused.status_code == 400
    assert 'id="new-wa_language-error">Choose the language the template was approved in' in refused.text
    assert 'value="welcome"' in refused.text
    assert not flow.steps.exists()
    added = owner_client.post(
        url, step | {"wa_template": "welcome", "wa_language": "en", "wa_placeholders": "{{ first_name }}"}
    )
    assert added.status_code == 302
    config = flow.steps.get().config
    assert (config["wa_template"], config["wa_language"], config["wa_placeholders"]) == (
        "welcome",
        "en",
        "{{ first_name }}",
    )


@pytest.mark.parametrize("template", ["welcome", ""])
def test_a_flow_send_step_sends_the_template_outside_the_window_or_skips(
    owner_client, account, people, infobip, template
):
    from communications import flows, services
    from communications.models import FlowMessage, FlowRun

    token = webhooks.webhook_token_rotate(account=account, user=None)
    wrote(token, "+385912345678", hours_ago=1)  # Ana
    flow = flow_of(people)
    extra = {
        "wa_template": template,
        "wa_language": "en",
        "wa_placeholders": "{{ first_name|default:'you' }}",
    }
    flows.flow_step_add(
        flow=flow,
        kind="send",
        config={"channel": "WHATSAPP", "sender": SENDER, "text": "Hi {{ first_name }}"}
        | (extra if template else {}),
    )
    services.flow_status_set(flow=flow, status="active")
    flows.flow_runs_due()
    statuses = dict(FlowMessage.objects.values_list("profile_id", "status"))
    ana, ben, cy = people["ana"], people["ben"], people["cy"]
    by_path = {request["path"]: request["json"]["messages"] for request in infobip.requests}
    assert [m["destinations"][0]["to"] for m in by_path["/messages-api/1/messages"]] == ["385912345678"]
    if template:
        assert set(statuses.values()) == {MessageStatus.SENT}
        sent = by_path["/whatsapp/1/message/template"]
        assert [(m["to"], m["content"]["templateData"]["body"]["placeholders"]) for m in sent] == [
            ("385912345679", ["Ben"]),
            ("385912345670", ["you"]),
        ]
    else:
        assert statuses == {
            ana.pk: MessageStatus.SENT,
            ben.pk: MessageStatus.OUTSIDE_WINDOW,
            cy.pk: MessageStatus.OUTSIDE_WINDOW,
        }
        assert "/whatsapp/1/message/template" not in by_path
    # Nobody is stuck at the step: the skipped go on as people blocked by Do Not Contact do.
    assert not FlowRun.objects.filter(flow=flow, state="failed").exists()


def test_the_sending_webhook_gets_the_template_of_people_outside_the_window(owner_client, people, settings):
    settings.COMMUNICATIONS_BACKEND = settings.INFOBIP_BASE_URL = settings.EMAIL_HOST = ""
    gateway = HttpRecorder()
    settings.COMMUNICATIONS_WEBHOOK_URL, settings.COMMUNICATIONS_WEBHOOK_SECRET = f"{gateway.url}/send", "shh"
    try:
        broadcast = create_and_send(
            owner_client,
            people,
            wa_template="spring_sale",
            wa_language="en",
            wa_placeholders="{{ first_name }}",
        )
    finally:
        gateway.stop()
    assert broadcast.sent == 3
    posted = {m["key"]: m for request in gateway.requests for m in request["json"]["messages"]}
    ben = posted[f"{broadcast.pk}:{people['ben'].pk}"]
    assert ben["template"] == {"name": "spring_sale", "language": "en", "placeholders": ["Ben"]}
    assert ben["text"] == "WhatsApp template spring_sale (en): Ben"
