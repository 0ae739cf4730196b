"""A burst of 10,000 inbound messages through the real URL, SMS or WhatsApp: every request is
answered before any work is done, then the jobs run and none is lost, with the right Do Not
Contact result for that channel."""

from __future__ import annotations

import pytest
from django.test import Client, TestCase

from audience.models import TaskOutbox
from communications import webhooks
from communications.models import InboundAction, InboundMessage, WebhookBatch
from dnc.models import DncAudit, DncEntryAccount
from tests.communications.webhook_helpers import inbound as mo
from tests.communications.webhook_helpers import inbound_body, inbound_url, inbound_whatsapp_url
from tests.communications.webhook_helpers import inbound_whatsapp as wa

TOTAL = 10_000
PER_REQUEST = 100  # what Infobip posts at most at once


def number(i: int) -> str:
    return f"38591{i:07d}"  # valid Croatian mobiles


def text_of(i: int) -> str:
    # 4 in 10 opt out, 1 in 10 opts out and back in later, 1 in 10 asks for help, the rest chat.
    return ["STOP", "stop ", "Unsubscribe", "QUIT", "STOP", "HELP", "hello", "thanks", "ok?", "yes"][i % 10]


@pytest.mark.parametrize(
    "channel, url_of, message", [("SMS", inbound_url, mo), ("WHATSAPP", inbound_whatsapp_url, wa)]
)
def test_ten_thousand_inbound_messages_lose_none(account, channel, url_of, message):
    import json

    token = webhooks.webhook_token_rotate(account=account, user=None)
    results = [
        message(f"mo-{i}", number(i), text_of(i), at=f"2026-12-01T10:{(i // 1000):02d}:00Z")
        for i in range(TOTAL)
    ]
    # Those whose STOP is followed by a START received an hour later, in a later request.
    results += [
        message(f"mo-start-{i}", number(i), "START", at="2026-12-01T11:00:00Z") for i in range(0, TOTAL, 10)
    ]
    client = Client(enforce_csrf_checks=True)
    with TestCase.captureOnCommitCallbacks(execute=False) as queued:
        for start in range(0, len(results), PER_REQUEST):
            body = inbound_body(results[start : start + PER_REQUEST])
            response = client.post(url_of(token), data=json.dumps(body), content_type="application/json")
            assert response.status_code == 200, response.content
        # The first request again: the provider retried it.
        response = client.post(
            url_of(token),
            data=json.dumps(inbound_body(results[:PER_REQUEST])),
            content_type="application/json",
        )
        assert response.status_code == 200
    requests = len(results) // PER_REQUEST + 1
    assert WebhookBatch.objects.filter(status="pending").count() == requests
    assert not InboundMessage.objects.exists()  # nothing done while answering
    assert TaskOutbox.objects.count() == requests

    for callback in queued:  # the queue delivers the jobs
        callback()

    assert WebhookBatch.objects.filter(status="done").count() == requests
    assert InboundMessage.objects.count() == len(results)
    assert not InboundMessage.objects.filter(action=InboundAction.PENDING).exists()
    opted_out = {f"+{number(i)}" for i in range(TOTAL) if i % 10 in (1, 2, 3, 4)}
    assert set(DncEntryAccount.objects.filter(account=account).values_list("value", flat=True)) == opted_out
    assert set(DncEntryAccount.objects.filter(account=account).values_list("channel", flat=True)) == {channel}
    assert InboundMessage.objects.filter(action=InboundAction.OPTED_OUT).count() == TOTAL // 10 * 5
    assert InboundMessage.objects.filter(action=InboundAction.OPTED_IN).count() == TOTAL // 10
    assert DncAudit.objects.filter(account_id=account.pk).count() == TOTAL // 10 * 6
    assert sum(WebhookBatch.objects.values_list("repeated", flat=True)) == PER_REQUEST
