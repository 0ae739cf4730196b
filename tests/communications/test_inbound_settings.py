"""Configuration › Inbound SMS: account admins make the webhook secret and set the words and
replies; teammates, viewers and outsiders can't."""

from __future__ import annotations

from django.urls import reverse

from communications import webhooks
from communications.models import InboundSettings
from tests.communications.webhook_helpers import inbound as mo
from tests.communications.webhook_helpers import inbound_body, inbound_url, post_json

PAGE = reverse("communications:inbound_settings")
SAVE = reverse("communications:inbound_settings_save")
SECRET = reverse("communications:webhook_token_rotate")
FIELDS = {
    "stop_words": "odjava, Stopp",
    "start_words": "",
    "reply_stop": "Bye.",
    "reply_start": "",
    "reply_help": "",
}


def test_it_shows_the_page_to_an_admin_only(owner_client, teammate_client, viewer_client):
    response = owner_client.get(PAGE)
    assert response.status_code == 200
    assert "No webhook URLs yet" in response.text and "Inbound SMS" in response.text
    assert teammate_client.get(PAGE).status_code == 403
    assert viewer_client.get(PAGE).status_code == 403


def test_an_admin_makes_the_webhook_urls_and_sees_the_secret_once(owner_client, account):
    response = owner_client.post(SECRET)
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    token = response.context["new_urls"]["inbound_sms"].split("/webhooks/")[1].split("/")[0]
    assert webhooks.webhook_account(token=token) == account
    assert f"http://testserver/webhooks/{token}/delivery-reports/" in response.text
    again = owner_client.get(PAGE)
    assert token not in again.text and token[:8] in again.text
    assert post_json(inbound_url(token), inbound_body([mo("m1", "385912345678", "STOP")])).status_code == 200
    assert "STOP" in owner_client.get(PAGE).text  # the latest messages received


def test_teammates_and_outsiders_cant_make_or_change_a_secret(
    teammate_client, viewer_client, outsider_client, account
):
    assert teammate_client.post(SECRET).status_code == 403
    assert viewer_client.post(SECRET).status_code == 403
    outsider_client.post(SECRET)  # makes one for the outsider's own account, not this one
    assert not InboundSettings.objects.filter(account=account).exists()


def test_an_admin_saves_words_and_replies(owner_client, account):
    response = owner_client.post(SAVE, FIELDS)
    assert response.status_code == 302
    row = InboundSettings.objects.get(account=account)
    assert (row.stop_words, row.reply_stop) == ("ODJAVA, STOPP", "Bye.")
    assert 'value="ODJAVA, STOPP"' in owner_client.get(PAGE).text


def test_a_word_with_two_meanings_is_refused_with_its_name(owner_client, account):
    response = owner_client.post(SAVE, {**FIELDS, "stop_words": "odjava", "start_words": "Odjava"})
    assert response.status_code == 400
    assert "“ODJAVA” already has another meaning" in response.text
    response = owner_client.post(SAVE, {**FIELDS, "stop_words": "help"})
    assert "“HELP” already has another meaning" in response.text
    assert not InboundSettings.objects.filter(account=account).exists()


def test_teammates_viewers_and_outsiders_cant_save(teammate_client, viewer_client, outsider_client, account):
    assert teammate_client.post(SAVE, FIELDS).status_code == 403
    assert viewer_client.post(SAVE, FIELDS).status_code == 403
    outsider_client.post(SAVE, FIELDS)
    assert not InboundSettings.objects.filter(account=account).exists()


def test_the_configuration_tabs_offer_it_to_admins_only(owner_client, teammate_client):
    attributes = reverse("audience:attributes")
    assert PAGE in owner_client.get(attributes).text
    assert PAGE not in teammate_client.get(attributes).text
