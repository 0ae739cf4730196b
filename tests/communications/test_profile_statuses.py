"""The profile card's Messages panel shows each message's delivery status, and its opt-outs
with how (source, campaign) and when they came."""

from __future__ import annotations

import pytest
from django.urls import reverse

from communications import webhooks
from communications.backends import message_key
from tests.communications.conftest import block, broadcast_for, make_profile, send
from tests.communications.webhook_helpers import inbound as mo
from tests.communications.webhook_helpers import inbound_body, inbound_url, post_json, report, reports_url

PHONE = "+385912345678"


@pytest.fixture
def ana(account):
    return make_profile(account, "Ana", phones=[PHONE], emails=["ana@example.com"])


@pytest.fixture
def history(account, ana):
    """Ana got a broadcast (delivered), then sent STOP, then START, and was blocked by hand."""
    token = webhooks.webhook_token_rotate(account=account, user=None)
    broadcast = send(broadcast_for(account, [ana], sender="38598765432"))
    post_json(reports_url(token), {"results": [report(message_key(broadcast.pk, ana.pk), "DELIVERED")]})
    post_json(inbound_url(token), inbound_body([mo("m1", "385912345678", "STOP", at="2026-12-01T10:00:00Z")]))
    post_json(
        inbound_url(token), inbound_body([mo("m2", "385912345678", "START", at="2026-12-01T11:00:00Z")])
    )
    block([account], "example.com")
    return broadcast


def panel(client, profile):
    return client.get(reverse("communications:profile_panel", args=[profile.pk]), HTTP_HX_REQUEST="true")


def test_members_see_delivery_statuses_and_opt_outs(
    owner_client, teammate_client, viewer_client, ana, history
):
    for client in (owner_client, teammate_client, viewer_client):
        response = panel(client, ana)
        assert response.status_code == 200
        text = response.text
        assert "Spring sale" in text and "Delivered" in text
        opt_outs = text.split('data-testid="profile-opt-outs"')[1]
        assert opt_outs.count("Opted out") == 2 and opt_outs.count("Opted back in") == 1
        assert "Message from the end user, campaign “Spring sale”" in opt_outs
        assert "example.com" in opt_outs and "Added manually" in opt_outs
        assert "from sender +38598765432" in opt_outs


def test_an_outsider_sees_nothing_of_the_profile(outsider_client, ana, history):
    assert panel(outsider_client, ana).status_code == 404


def test_it_says_when_no_contact_was_ever_blocked(owner_client, ana):
    assert "never been put on Do Not Contact" in panel(owner_client, ana).text


def test_another_accounts_opt_outs_of_the_same_number_are_not_shown(owner_client, ana, other_account):
    block([other_account], PHONE)
    assert "never been put on Do Not Contact" in panel(owner_client, ana).text
