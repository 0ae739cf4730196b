from __future__ import annotations

import json
import urllib.request

from audience import services
from communications.models import InboundMessage
from tests.browser.conftest import shot


def test_an_admin_makes_the_webhook_and_a_stop_word_reaches_the_profile_card(page, marketer, live_server):
    account, _ = marketer
    ana = services.profile_create(
        account=account, fields={"first_name": "Ana", "last_name": "Horvat"}, phones=["+385912345678"]
    )
    page.goto("/communications/inbound-sms/")
    page.get_by_role("button", name="Make the webhook URLs").click()
    url = page.locator("#url-inbound").input_value()
    assert url.startswith(live_server.url + "/webhooks/") and url.endswith("/inbound-sms/")
    page.get_by_label("More STOP words").fill("odjava")
    page.get_by_label("Reply to STOP").fill("Odjavljeni ste.")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Inbound SMS settings saved.").wait_for()

    # The provider posts what Ana wrote, over real HTTP to the live server.
    body = {
        "results": [
            {
                "messageId": "mo-1",
                "from": "385912345678",
                "to": "38598765432",
                "text": " Odjava ",
                "cleanText": "",
                "keyword": "ODJAVA",
                "receivedAt": "2026-12-01T10:00:00.000+0000",
                "smsCount": 1,
            }
        ],
        "messageCount": 1,
        "pendingMessageCount": 0,
    }
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    assert InboundMessage.objects.get().action == "opted_out"

    page.goto("/communications/inbound-sms/")
    page.get_by_test_id("inbound-messages").get_by_text("Added to Do Not Contact").wait_for()
    shot(page, "15-inbound-sms")
    page.goto(f"/people/{ana.pk}/")
    opt_outs = page.get_by_test_id("profile-opt-outs")  # loaded by htmx with the Messages panel
    opt_outs.get_by_text("Message from the end user").wait_for()
    assert "Opted out" in opt_outs.inner_text()
    opt_outs.scroll_into_view_if_needed()
    shot(page, "16-profile-opt-out")
