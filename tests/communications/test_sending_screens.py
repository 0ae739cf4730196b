"""Senders, the broadcast form's content and preview, the broadcast page's counters, the outbox
and the URL opt-out, through their URLs for an owner, a teammate and an outsider."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from audience.selection import Selection
from communications.content import sms_length
from communications.models import Broadcast, Sender
from communications.optout import unsubscribe_token
from dnc.models import DncAudit, DncEntryAccount, Source
from tests.communications.conftest import broadcast_for, make_profile, send, sender_for


@pytest.fixture
def ana(account):
    return make_profile(
        account, "Ana", phones=["+385912345678"], emails=["ana@example.com"], attributes={"tier": "gold"}
    )


def selection_of(*profiles) -> str:
    return json.dumps(Selection(ids=[p.pk for p in profiles]).to_json())


# --- Senders -------------------------------------------------------------------------------------


def test_it_lets_an_admin_add_senders_and_validates_them_per_channel(owner_client, account):
    url = reverse("communications:sender_create")
    ok = owner_client.post(url, {"channel": "EMAIL", "address": "News@Acme.Example", "label": "Acme news"})
    assert ok.status_code == 302
    assert owner_client.post(url, {"channel": "SMS", "address": "ACME"}).status_code == 302
    assert owner_client.post(url, {"channel": "SMS", "address": "+385 91 234 5678"}).status_code == 302
    bad = owner_client.post(url, {"channel": "EMAIL", "address": "ACME"})
    assert bad.status_code == 400 and "“ACME” is not an email address." in bad.text
    long_name = owner_client.post(url, {"channel": "SMS", "address": "A sender name too long"})
    assert long_name.status_code == 400 and "A sender name has 3 to 11" in long_name.text
    again = owner_client.post(url, {"channel": "SMS", "address": "ACME"})
    assert again.status_code == 400 and "ACME is already a SMS sender." in again.text
    stored = set(Sender.objects.filter(account=account).values_list("channel", "address"))
    assert stored == {("EMAIL", "News@acme.example"), ("SMS", "ACME"), ("SMS", "+385912345678")}
    page = owner_client.get(reverse("communications:senders"))
    assert page.status_code == 200 and "Acme news" in page.text


def test_only_admins_of_the_account_manage_senders(teammate_client, outsider_client, account):
    sender = sender_for(account, "SMS", "ACME")
    assert teammate_client.get(reverse("communications:senders")).status_code == 403
    assert (
        teammate_client.post(
            reverse("communications:sender_create"), {"channel": "SMS", "address": "X1X"}
        ).status_code
        == 403
    )
    assert outsider_client.post(reverse("communications:sender_delete", args=[sender.pk])).status_code == 404
    assert Sender.objects.filter(account=account).count() == 1


def test_it_refuses_to_delete_a_sender_a_draft_uses_naming_it(owner_client, account, ana):
    sender = sender_for(account, "SMS", "ACME")
    broadcast_for(account, [ana], sender="ACME")
    response = owner_client.post(reverse("communications:sender_delete", args=[sender.pk]), follow=True)
    assert "ACME can&#x27;t be deleted: it is the sender of “Spring sale”." in response.text
    assert Sender.objects.filter(pk=sender.pk).exists()


def test_it_deletes_a_sender_only_sent_broadcasts_used(owner_client, account, ana):
    sender = sender_for(account, "SMS", "ACME")
    send(broadcast_for(account, [ana], sender="ACME"))
    owner_client.post(reverse("communications:sender_delete", args=[sender.pk]))
    assert not Sender.objects.filter(pk=sender.pk).exists()


def test_a_broadcast_picks_a_sender_of_its_account_and_channel(teammate_client, account, other_account, ana):
    sender_for(account, "EMAIL", "news@acme.example")
    sender_for(other_account, "SMS", "GLOBEX")
    url = reverse("communications:broadcast_new")
    data = {"name": "P", "channel": "SMS", "text": "Hi", "selection": selection_of(ana)}
    other_channel = teammate_client.post(url, data | {"sender": "news@acme.example"})
    assert other_channel.status_code == 400
    assert "news@acme.example is not one of this account&#x27;s SMS senders." in other_channel.text
    other_account_sender = teammate_client.post(url, data | {"sender": "GLOBEX"})
    assert other_account_sender.status_code == 400 and "Select a valid choice" in other_account_sender.text
    assert not Broadcast.objects.exists()


# --- Content -------------------------------------------------------------------------------------


def test_an_email_needs_a_subject_and_templates_that_parse(teammate_client, ana):
    url = reverse("communications:broadcast_new")
    data = {"name": "P", "channel": "EMAIL", "text": "Hi {% load static %}", "selection": selection_of(ana)}
    response = teammate_client.post(url, data)
    assert response.status_code == 400
    assert "An email needs a subject." in response.text
    assert "The template can&#x27;t be read: Invalid block tag on line 1: &#x27;load&#x27;" in response.text
    assert not Broadcast.objects.exists()


def test_the_preview_renders_the_message_for_the_first_profile_of_the_audience(teammate_client, ana):
    response = teammate_client.post(
        reverse("communications:broadcast_preview"),
        {
            "channel": "SMS",
            "text": 'Hi {{ first_name|default:"there" }}, {{ custom.tier }} {{ custom.missing|default:"-" }} €',
            "selection": selection_of(ana),
        },
    )
    assert response.status_code == 200
    assert "Hi Ana, gold - €" in response.text
    assert "17 characters · 1 part · GSM-7"  # € counts as two in response.text


def test_the_preview_names_a_template_that_does_not_parse(teammate_client, ana):
    response = teammate_client.post(
        reverse("communications:broadcast_preview"),
        {"channel": "SMS", "text": "{{ first_name|safe }}", "selection": selection_of(ana)},
    )
    assert (
        "Invalid filter: &#x27;safe&#x27;" in response.text and 'data-testid="preview"' not in response.text
    )


def test_the_preview_does_not_show_another_accounts_profile(teammate_client, other_account):
    olga = make_profile(other_account, "Olga", phones=["+385912345670"])
    response = teammate_client.post(
        reverse("communications:broadcast_preview"),
        {"channel": "SMS", "text": "x", "selection": selection_of(olga)},
    )
    assert response.status_code == 404 and "Olga" not in response.text


def test_a_template_reads_the_profiles_fields_and_nothing_else(account, memory_backend):
    ana = make_profile(account, "Ana", phones=["+385912345678"])
    text = "{{ first_name }}|{{ account }}|{{ profile }}|{{ settings.SECRET_KEY }}|{{ custom.x.y }}|{{ first_name.__class__ }}"
    with pytest.raises(Exception, match="underscores"):
        broadcast_for(account, [ana], text=text)
    send(broadcast_for(account, [ana], text=text.rpartition("|")[0]))
    assert memory_backend.outbox[0].text == "Ana||||"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, (160, 1, "GSM-7")),
        ("a" * 161, (161, 2, "GSM-7")),
        ("a" * 306, (306, 2, "GSM-7")),
        ("a" * 307, (307, 3, "GSM-7")),
        ("€" * 80, (160, 1, "GSM-7")),
        ("^{}\\[~]|" + "a" * 145, (161, 2, "GSM-7")),
        ("č" * 70, (70, 1, "Unicode (UCS-2)")),
        ("č" * 71, (71, 2, "Unicode (UCS-2)")),
        ("č" * 134, (134, 2, "Unicode (UCS-2)")),
        ("č" * 135, (135, 3, "Unicode (UCS-2)")),
    ],
)
def test_it_counts_sms_characters_and_parts(text, expected):
    length = sms_length(text)
    assert (length.characters, length.parts, length.encoding) == expected


# --- The broadcast page, the outbox, URL opt-out -------------------------------------------------


def test_the_broadcast_page_shows_every_outcome_and_opt_outs_since(owner_client, account, ana, settings):
    settings.COMMUNICATIONS_BACKEND = ""
    broadcast = send(broadcast_for(account, [ana], channel="EMAIL", sender="news@acme.example"))
    token = unsubscribe_token(broadcast.pk, ana.pk)
    Client().post(reverse("communications:unsubscribe", args=[token]))
    page = owner_client.get(broadcast.get_absolute_url())
    assert 'data-testid="count-sent">1<' in page.text
    assert 'data-testid="count-delivered">0<' in page.text
    assert 'data-testid="count-opted-out">1<' in page.text
    outbox = owner_client.get(reverse("communications:outbox"))
    assert "ana@example.com" in outbox.text and "Spring sale" in outbox.text


def test_the_outbox_shows_only_the_accounts_messages(outsider_client, account, ana, settings):
    settings.COMMUNICATIONS_BACKEND = ""
    send(broadcast_for(account, [ana]))
    response = outsider_client.get(reverse("communications:outbox"))
    assert response.status_code == 200 and "+385912345678" not in response.text


def test_a_get_shows_the_page_and_a_post_opts_out_once(account, ana):
    broadcast = send(broadcast_for(account, [ana], channel="EMAIL"))
    url = reverse("communications:unsubscribe", args=[unsubscribe_token(broadcast.pk, ana.pk)])
    stranger = Client(enforce_csrf_checks=True)
    page = stranger.get(url)
    assert page.status_code == 200 and "ana@example.com" in page.text
    assert not DncEntryAccount.objects.exists()  # a link scanner's GET changes nothing
    one_click = stranger.post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert one_click.status_code == 200 and "You're unsubscribed" in one_click.text
    (row,) = DncEntryAccount.objects.all()
    assert (row.account_id, row.value, row.channel, row.source, row.campaign) == (
        account.pk,
        "ana@example.com",
        "EMAIL",
        Source.URL_OPT_OUT,
        "Spring sale",
    )
    assert DncAudit.objects.count() == 1
    stranger.post(url)
    assert DncEntryAccount.objects.count() == 1 and DncAudit.objects.count() == 1


def test_a_forged_or_changed_token_answers_404(account, ana):
    broadcast = send(broadcast_for(account, [ana], channel="EMAIL"))
    token = unsubscribe_token(broadcast.pk, ana.pk)
    forged = token.replace(token.split(":")[0], unsubscribe_token(broadcast.pk, ana.pk + 1).split(":")[0])
    for bad in (forged, "WzEsMV0:nope", str(ana.pk)):
        assert Client().post(reverse("communications:unsubscribe", args=[bad])).status_code == 404
    assert not DncEntryAccount.objects.exists()


def test_a_link_of_the_earlier_token_format_and_of_a_fallback_key_still_opts_out(account, ana, settings):
    """Links already in inboxes keep working: the earlier `django.core.signing` tokens, and tokens
    signed with a key that has since moved to SECRET_KEY_FALLBACKS."""
    from django.core import signing

    broadcast = send(broadcast_for(account, [ana], channel="EMAIL"))
    earlier = signing.Signer(salt="communications.unsubscribe").sign_object([broadcast.pk, ana.pk])
    page = Client().get(reverse("communications:unsubscribe", args=[earlier]))
    assert page.status_code == 200 and "ana@example.com" in page.text
    token = unsubscribe_token(broadcast.pk, ana.pk)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    assert unsubscribe_token(broadcast.pk, ana.pk) != token
    assert Client().post(reverse("communications:unsubscribe", args=[token])).status_code == 200
    assert DncEntryAccount.objects.count() == 1
