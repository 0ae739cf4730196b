"""Every screen through its URL for the owner, a teammate (marketer), a viewer and an outsider."""

from __future__ import annotations

import json

import pytest
from django.test import TestCase
from django.urls import reverse

from audience.selection import Selection
from communications import services
from communications.models import Broadcast, Flow, FlowStatus, Message
from tags import services as tag_services
from tests.communications.conftest import block, broadcast_for, make_profile, send, sender_for

PHONE = "+385912345678"


@pytest.fixture
def ana(account):
    return make_profile(account, "Ana", phones=[PHONE])


@pytest.fixture
def draft(account, ana):
    return broadcast_for(account, [ana])


@pytest.fixture
def flow(account, ana):
    return services.flow_create(
        account=account,
        user=None,
        name="Welcome",
        audience=services.AudienceSpec(selections=[Selection(ids=[ana.pk])]),
    )


# --- list ------------------------------------------------------------------------------------------


def test_it_lists_broadcasts_and_flows_to_members(owner_client, teammate_client, viewer_client, draft, flow):
    for client in (owner_client, teammate_client, viewer_client):
        response = client.get(reverse("communications:list"))
        assert response.status_code == 200
        assert "Spring sale" in response.text and "Welcome" in response.text


def test_it_shows_an_outsider_only_their_own_list(outsider_client, draft, flow):
    response = outsider_client.get(reverse("communications:list"))
    assert response.status_code == 200
    assert "Spring sale" not in response.text and "Welcome" not in response.text
    assert "No broadcasts yet" in response.text


# --- add to communication from People ----------------------------------------------------------------


def test_it_offers_broadcast_and_flow_for_a_people_selection(owner_client, teammate_client, ana):
    for client in (owner_client, teammate_client):
        response = client.post(reverse("communications:add_audience"), {"ids": [ana.pk]})
        assert response.status_code == 200
        assert "1 selected profile" in response.text
        assert "Create broadcast" in response.text and "Choose a flow" in response.text


def test_it_refuses_add_to_communication_to_a_viewer(viewer_client, ana):
    assert viewer_client.post(reverse("communications:add_audience"), {"ids": [ana.pk]}).status_code == 403


def test_an_outsider_cannot_add_another_accounts_profiles(outsider_client, ana):
    assert outsider_client.post(reverse("communications:add_audience"), {"ids": [ana.pk]}).status_code == 404


def test_it_opens_the_broadcast_form_with_the_recipients_filled_in(owner_client, ana):
    selection = json.dumps(Selection(ids=[ana.pk]).to_json())
    response = owner_client.post(
        reverse("communications:broadcast_new"),
        {"prefill": "1", "channel": "WHATSAPP", "selection": selection},
    )
    assert response.status_code == 200
    assert 'data-testid="audience-count">1<' in response.text
    assert '<option value="WHATSAPP" selected>' in response.text
    assert "This field is required" not in response.text


def test_it_creates_a_draft_broadcast_and_sends_it(owner_client, owner, account, ana):
    sender_for(account, "SMS", "ACME")  # a broadcast picks one of the account's senders
    selection = json.dumps(Selection(ids=[ana.pk]).to_json())
    response = owner_client.post(
        reverse("communications:broadcast_new"),
        {"name": "Promo", "channel": "SMS", "sender": "ACME", "text": "Hi", "selection": selection},
    )
    broadcast = Broadcast.objects.get(account=account)
    assert response.status_code == 302 and response["Location"] == broadcast.get_absolute_url()
    assert broadcast.is_draft and broadcast.created_by == owner
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = owner_client.post(reverse("communications:broadcast_send", args=[broadcast.pk]))
    assert response.status_code == 302
    page = owner_client.get(broadcast.get_absolute_url())
    assert 'data-testid="broadcast-counters"' in page.text and "Sent" in page.text
    assert Message.objects.filter(broadcast=broadcast, status="sent").count() == 1


def test_it_shows_inline_errors_on_the_broadcast_form(teammate_client, ana):
    selection = json.dumps(Selection(ids=[ana.pk]).to_json())
    response = teammate_client.post(
        reverse("communications:broadcast_new"), {"channel": "SMS", "selection": selection}
    )
    assert response.status_code == 400
    assert "is-invalid" in response.text and "This field is required" in response.text


def test_it_builds_a_broadcast_for_tags_chosen_on_the_form(teammate_client, account, ana):
    vip = tag_services.tag_get_or_create(account=account, name="VIP")
    response = teammate_client.post(
        reverse("communications:broadcast_new"),
        {"name": "T", "channel": "SMS", "text": "x", "add_tag": [vip.pk]},
    )
    assert response.status_code == 302
    assert list(Broadcast.objects.get().items.values_list("kind", "object_id")) == [("tag", vip.pk)]


def test_it_refuses_the_broadcast_form_to_a_viewer(viewer_client):
    assert viewer_client.get(reverse("communications:broadcast_new")).status_code == 403
    assert viewer_client.post(reverse("communications:broadcast_new"), {"name": "x"}).status_code == 403


def test_it_answers_404_for_another_accounts_tag(outsider_client, account):
    vip = tag_services.tag_get_or_create(account=account, name="VIP")
    assert outsider_client.get(reverse("communications:broadcast_new") + f"?tag={vip.pk}").status_code == 404
    assert outsider_client.get(reverse("communications:add_to_flow") + f"?tag={vip.pk}").status_code == 404


# --- a broadcast's page ----------------------------------------------------------------------------


def test_it_shows_a_broadcast_to_members(owner_client, teammate_client, viewer_client, draft):
    for client in (owner_client, teammate_client, viewer_client):
        response = client.get(draft.get_absolute_url())
        assert response.status_code == 200 and "20% off everything" in response.text
    assert "Send now" in owner_client.get(draft.get_absolute_url()).text
    assert "Send now" not in viewer_client.get(draft.get_absolute_url()).text


def test_it_hides_a_broadcast_from_an_outsider(outsider_client, draft):
    for name in ("communications:broadcast", "communications:broadcast_count"):
        assert outsider_client.get(reverse(name, args=[draft.pk])).status_code == 404
    for name in ("communications:broadcast_send", "communications:broadcast_delete"):
        assert outsider_client.post(reverse(name, args=[draft.pk])).status_code == 404
    draft.refresh_from_db()
    assert draft.is_draft


def test_it_refuses_send_and_delete_to_a_viewer(viewer_client, draft):
    assert viewer_client.post(reverse("communications:broadcast_send", args=[draft.pk])).status_code == 403
    assert viewer_client.post(reverse("communications:broadcast_delete", args=[draft.pk])).status_code == 403
    draft.refresh_from_db()
    assert draft.is_draft


def test_it_counts_a_drafts_recipients(viewer_client, draft):
    response = viewer_client.get(
        reverse("communications:broadcast_count", args=[draft.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and 'data-testid="audience-count">1<' in response.text


def test_it_polls_only_the_progress_fragment(owner_client, draft):
    response = owner_client.get(draft.get_absolute_url(), HTTP_HX_REQUEST="true")
    assert 'id="broadcast-progress"' in response.text and "<html" not in response.text


def test_it_shows_the_outcome_counters_after_sending(teammate_client, account, ana):
    ben = make_profile(account, "Ben", phones=["+385912345679"])
    block([account], "+385912345679")
    broadcast = send(broadcast_for(account, [ana, ben]))
    response = teammate_client.get(broadcast.get_absolute_url())
    assert "Blocked by Do Not Contact" in response.text
    assert broadcast.message in response.text


def test_it_deletes_a_draft_but_not_a_sent_broadcast(teammate_client, account, draft, ana):
    response = teammate_client.post(reverse("communications:broadcast_delete", args=[draft.pk]))
    assert response.status_code == 302 and not Broadcast.objects.filter(pk=draft.pk).exists()
    sent = send(broadcast_for(account, [ana]))
    teammate_client.post(reverse("communications:broadcast_delete", args=[sent.pk]))
    assert Broadcast.objects.filter(pk=sent.pk).exists()


# --- flows -----------------------------------------------------------------------------------------


def test_it_creates_a_flow_from_a_tag(owner_client, account):
    vip = tag_services.tag_get_or_create(account=account, name="VIP")
    url = reverse("communications:add_to_flow")
    page = owner_client.get(url + f"?tag={vip.pk}")
    assert page.status_code == 200 and "VIP" in page.text
    response = owner_client.post(url, {"tag": vip.pk, "target": "new", "name": "VIP journey"})
    flow = Flow.objects.get(account=account)
    assert response.status_code == 302 and response["Location"] == flow.get_absolute_url()
    assert flow.status == FlowStatus.DRAFT and flow.name == "VIP journey"


def test_it_adds_a_company_to_an_existing_active_flow(teammate_client, account, flow):
    from audience.models import Company

    company = Company.objects.create(account=account, name="Initech")
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE)
    response = teammate_client.post(
        reverse("communications:add_to_flow"), {"company": company.pk, "target": "existing", "flow": flow.pk}
    )
    assert response.status_code == 302
    assert flow.items.filter(kind="company", object_id=company.pk).exists()


def test_it_adds_a_people_selection_to_a_flow(owner_client, account, ana):
    url = reverse("communications:add_to_flow")
    page = owner_client.post(url, {"ids": [ana.pk]})
    assert page.status_code == 200 and "1 selected profile" in page.text
    selection = json.dumps(Selection(ids=[ana.pk]).to_json())
    owner_client.post(url, {"selection": selection, "target": "new", "name": "Picked"})
    assert Flow.objects.get(name="Picked").items.get().selection["ids"] == [ana.pk]


def test_it_asks_for_a_name_for_a_new_flow(owner_client, ana):
    response = owner_client.post(
        reverse("communications:add_to_flow"), {"ids": [ana.pk], "target": "new", "name": ""}
    )
    assert response.status_code == 400 and "Give the new flow a name." in response.text
    assert not Flow.objects.exists()


def test_it_refuses_a_flow_that_is_not_active(owner_client, flow, ana):
    response = owner_client.post(
        reverse("communications:add_to_flow"), {"ids": [ana.pk], "target": "existing", "flow": flow.pk}
    )
    assert response.status_code == 400


def test_it_refuses_add_to_flow_to_a_viewer(viewer_client, ana):
    assert viewer_client.get(reverse("communications:add_to_flow")).status_code == 403


def test_an_outsider_cannot_add_to_another_accounts_flow(outsider_client, other_account, flow):
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE)
    mine = make_profile(other_account, "Mine")
    response = outsider_client.post(
        reverse("communications:add_to_flow"), {"ids": [mine.pk], "target": "existing", "flow": flow.pk}
    )
    assert response.status_code == 400  # not among the choices: their own active flows
    assert flow.items.count() == 1


def test_it_shows_a_flow_and_its_size(owner_client, teammate_client, viewer_client, flow):
    for client in (owner_client, teammate_client, viewer_client):
        page = client.get(flow.get_absolute_url())
        assert page.status_code == 200 and "1 selected profile" in page.text
        count = client.get(reverse("communications:flow_count", args=[flow.pk]), HTTP_HX_REQUEST="true")
        assert 'data-testid="audience-count">1<' in count.text


def test_it_hides_a_flow_from_an_outsider(outsider_client, flow):
    assert outsider_client.get(flow.get_absolute_url()).status_code == 404
    assert outsider_client.get(reverse("communications:flow_count", args=[flow.pk])).status_code == 404
    url = reverse("communications:flow_status", args=[flow.pk])
    assert outsider_client.post(url, {"status": "active"}).status_code == 404
    url = reverse("communications:flow_item_remove", args=[flow.pk, flow.items.get().pk])
    assert outsider_client.post(url).status_code == 404
    flow.refresh_from_db()
    assert flow.status == FlowStatus.DRAFT and flow.items.count() == 1


def test_it_changes_a_flows_status_for_editors_only(owner_client, teammate_client, viewer_client, flow):
    url = reverse("communications:flow_status", args=[flow.pk])
    assert viewer_client.post(url, {"status": "active"}).status_code == 403
    assert teammate_client.post(url, {"status": "active"}).status_code == 302
    assert owner_client.post(url, {"status": "paused"}).status_code == 302
    flow.refresh_from_db()
    assert flow.status == FlowStatus.PAUSED


def test_it_removes_an_item_from_a_paused_flow_for_editors_only(teammate_client, viewer_client, flow):
    url = reverse("communications:flow_item_remove", args=[flow.pk, flow.items.get().pk])
    assert viewer_client.post(url).status_code == 403
    assert teammate_client.post(url).status_code == 302
    assert flow.items.count() == 0


# --- profile panel ---------------------------------------------------------------------------------


def test_it_lists_the_messages_a_profile_received(owner_client, teammate_client, viewer_client, account, ana):
    send(broadcast_for(account, [ana]))
    for client in (owner_client, teammate_client, viewer_client):
        response = client.get(reverse("communications:profile_panel", args=[ana.pk]), HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert "Spring sale" in response.text and PHONE in response.text


def test_it_says_when_a_profile_received_nothing(owner_client, ana):
    response = owner_client.get(reverse("communications:profile_panel", args=[ana.pk]))
    assert "No messages have been sent" in response.text


def test_it_hides_a_profiles_messages_from_an_outsider(outsider_client, account, ana):
    send(broadcast_for(account, [ana]))
    assert outsider_client.get(reverse("communications:profile_panel", args=[ana.pk])).status_code == 404


def test_it_counts_an_audience_from_the_querystring(viewer_client, outsider_client, account, ana):
    url = reverse("communications:audience_count") + "?selection=" + json.dumps({"ids": None, "filters": {}})
    response = viewer_client.get(url)
    assert 'data-testid="audience-count">1<' in response.text
    assert 'data-testid="audience-count">0<' in outsider_client.get(url).text


def test_segment_tag_and_company_pages_offer_add_to_flow_to_editors_only(
    owner_client, teammate_client, viewer_client, account
):
    from audience.models import Company
    from segments.models import Segment

    vip = tag_services.tag_get_or_create(account=account, name="VIP")
    acme = Company.objects.create(account=account, name="Acme")
    segment = Segment.objects.create(account=account, name="Everyone", rule={"version": 1})
    add = reverse("communications:add_to_flow")
    pages = {
        reverse("segments:detail", args=[segment.pk]): f"{add}?segment={segment.pk}",
        reverse("tags:list"): f"{add}?tag={vip.pk}",
        reverse("audience:company", args=[acme.pk]): f"{add}?company={acme.pk}",
    }
    for url, link in pages.items():
        for client in (owner_client, teammate_client):
            page = client.get(url)
            assert page.status_code == 200 and f'href="{link}"' in page.text, url
            # The link opens the flow choice with that audience named.
            assert client.get(link).status_code == 200
        assert f'href="{link}"' not in viewer_client.get(url).text, url
