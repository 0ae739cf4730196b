from __future__ import annotations

import pytest
from django.urls import reverse

from audience import services, usage
from audience.models import AttributeDefinition, EventDefinition, Membership, Role
from tests.factories import ProfileFactory

ATTRS = "/configuration/attributes/"
EVENTS = "/configuration/events/"
ACCOUNT = "/configuration/account/"


def test_configuration_redirects_to_attributes(viewer_client):
    response = viewer_client.get(reverse("audience:configuration"))
    assert response.status_code == 302 and response.url == ATTRS


# --- Custom attributes -------------------------------------------------------------------------


@pytest.fixture
def attributes(account):
    score = AttributeDefinition.objects.create(account=account, name="Score", type="integer")
    tier = AttributeDefinition.objects.create(account=account, name="Tier", type="text")
    ProfileFactory(account=account, attributes={"Score": 5})
    return score, tier


@pytest.mark.parametrize("who", ["owner_client", "teammate_client", "viewer_client"])
def test_it_lists_attributes_with_type_and_use(request, who, attributes):
    body = request.getfixturevalue(who).get(ATTRS).content.decode()
    assert "Score" in body and "Whole number" in body and "In use" in body
    assert "Tier" in body and "Not used" in body


def test_it_hides_attribute_forms_from_viewers(viewer_client, owner_client, attributes):
    assert b"New custom attribute" not in viewer_client.get(ATTRS).content
    assert b"New custom attribute" in owner_client.get(ATTRS).content


def test_an_outsider_sees_none_of_them(outsider_client, attributes):
    assert b"Score" not in outsider_client.get(ATTRS).content


@pytest.mark.parametrize("who", ["owner_client", "teammate_client"])
def test_editors_create_attributes(request, who, account):
    response = request.getfixturevalue(who).post(
        "/configuration/attributes/new/", {"name": "Renewal", "type": "date"}
    )
    assert response.status_code == 302
    assert AttributeDefinition.objects.get(account=account, name="Renewal").type == "date"


def test_it_refuses_a_duplicate_or_untyped_attribute(owner_client, attributes):
    response = owner_client.post("/configuration/attributes/new/", {"name": "score", "type": "text"})
    assert response.status_code == 400
    assert b"There is already a custom attribute named" in response.content
    response = owner_client.post("/configuration/attributes/new/", {"name": "X", "type": "colour"})
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content


def test_viewers_cannot_create_or_delete(viewer_client, attributes):
    assert (
        viewer_client.post("/configuration/attributes/new/", {"name": "A", "type": "text"}).status_code == 403
    )
    assert (
        viewer_client.post(reverse("audience:attribute_delete", args=[attributes[1].pk])).status_code == 403
    )
    assert AttributeDefinition.objects.count() == 2


def test_it_deletes_an_unused_attribute(owner_client, attributes):
    response = owner_client.post(reverse("audience:attribute_delete", args=[attributes[1].pk]), follow=True)
    assert b"was deleted" in response.content
    assert not AttributeDefinition.objects.filter(name="Tier").exists()


def test_it_refuses_to_delete_an_attribute_profiles_use(owner_client, attributes):
    response = owner_client.post(reverse("audience:attribute_delete", args=[attributes[0].pk]), follow=True)
    assert b"is in use" in response.content
    assert AttributeDefinition.objects.filter(name="Score").exists()


def test_it_refuses_to_delete_an_attribute_a_registered_checker_uses(owner_client, attributes, monkeypatch):
    monkeypatch.setitem(usage._checkers, usage.ATTRIBUTE, [])
    usage.usage_register(usage.ATTRIBUTE, lambda d: ["Segment Big spenders"] if d.name == "Tier" else [])
    assert b"Segment Big spenders" in owner_client.get(ATTRS).content
    response = owner_client.post(reverse("audience:attribute_delete", args=[attributes[1].pk]), follow=True)
    assert b"Segment Big spenders" in response.content
    assert AttributeDefinition.objects.filter(name="Tier").exists()


def test_an_outsider_cannot_delete_an_attribute(outsider_client, attributes):
    assert (
        outsider_client.post(reverse("audience:attribute_delete", args=[attributes[1].pk])).status_code == 404
    )


# --- Event definitions -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner_client", "teammate_client", "viewer_client"])
def test_it_lists_event_definitions_with_properties(request, who):
    body = request.getfixturevalue(who).get(EVENTS).content.decode()
    assert "App Launch" in body and "Predefined" in body and "platform · text" in body


def test_editors_create_an_event_with_properties(teammate_client, account):
    data = {
        "name": "Purchase",
        "description": "Bought",
        "property_0": "amount",
        "property_type_0": "decimal",
        "property_1": "sku",
        "property_type_1": "text",
    }
    assert teammate_client.post("/configuration/events/new/", data).status_code == 302
    definition = EventDefinition.objects.get(account=account, name="Purchase")
    assert definition.properties == {"amount": "decimal", "sku": "text"}


def test_it_refuses_a_duplicate_event_name(owner_client):
    response = owner_client.post("/configuration/events/new/", {"name": "app launch"})
    assert response.status_code == 400
    assert b"There is already an event named" in response.content


def test_editing_adds_properties_and_never_retypes(owner_client, account):
    launch = EventDefinition.objects.get(account=account, name="App Launch")
    url = reverse("audience:event_definition_edit", args=[launch.pk])
    assert owner_client.get(url).status_code == 200
    response = owner_client.post(
        url, {"description": "Opened", "property_0": "platform", "property_type_0": "integer"}
    )
    assert response.status_code == 400
    assert (
        b"a property&#x27;s type never changes" in response.content
        or b"type never changes" in response.content
    )
    response = owner_client.post(
        url, {"description": "Opened", "property_0": "screen", "property_type_0": "text"}
    )
    assert response.status_code == 302
    launch.refresh_from_db()
    assert launch.properties == {"platform": "text", "app_version": "text", "screen": "text"}
    assert launch.description == "Opened"


def test_the_predefined_event_cannot_be_deleted(owner_client, account):
    launch = EventDefinition.objects.get(account=account, name="App Launch")
    response = owner_client.post(reverse("audience:event_definition_delete", args=[launch.pk]), follow=True)
    assert b"predefined" in response.content
    assert EventDefinition.objects.filter(pk=launch.pk).exists()


def test_a_custom_event_can_be_deleted(owner_client, account):
    custom = services.event_definition_create(account=account, name="Signup")
    owner_client.post(reverse("audience:event_definition_delete", args=[custom.pk]))
    assert not EventDefinition.objects.filter(pk=custom.pk).exists()


def test_viewers_and_outsiders_cannot_change_events(viewer_client, outsider_client, account):
    launch = EventDefinition.objects.get(account=account, name="App Launch")
    edit = reverse("audience:event_definition_edit", args=[launch.pk])
    assert viewer_client.get("/configuration/events/new/").status_code == 403
    assert viewer_client.post(edit, {"description": "x"}).status_code == 403
    assert outsider_client.post(edit, {"description": "x"}).status_code == 404
    assert b"Add event" not in viewer_client.get(EVENTS).content


# --- Account and members -----------------------------------------------------------------------


def test_admins_see_the_account_and_its_members(owner_client, teammate, viewer):
    body = owner_client.get(ACCOUNT).content.decode()
    assert "Acme" in body and "Europe/Zagreb" in body
    for name in ("alice", "bob", "vera"):
        assert name in body


@pytest.mark.parametrize("who", ["teammate_client", "viewer_client"])
def test_non_admins_may_not_manage_the_account(request, who, account):
    client = request.getfixturevalue(who)
    assert client.get(ACCOUNT).status_code == 403
    assert client.post(ACCOUNT, {"name": "Hacked", "time_zone": "UTC"}).status_code == 403
    account.refresh_from_db()
    assert account.name == "Acme"


def test_an_outsider_manages_only_their_own_account(outsider_client, account, other_account, teammate):
    body = outsider_client.get(ACCOUNT).content.decode()
    assert "Globex" in body and "bob" not in body
    membership = Membership.objects.get(account=account, user=teammate)
    assert outsider_client.post(reverse("audience:member_remove", args=[membership.pk])).status_code == 404
    assert (
        outsider_client.post(
            reverse("audience:member_role", args=[membership.pk]), {"role": "viewer"}
        ).status_code
        == 404
    )
    assert Membership.objects.filter(pk=membership.pk, role=Role.MARKETER).exists()


def test_it_renames_the_account_and_changes_its_time_zone(owner_client, account):
    assert (
        owner_client.post(ACCOUNT, {"name": "Acme Europe", "time_zone": "Europe/London"}).status_code == 302
    )
    account.refresh_from_db()
    assert (account.name, account.time_zone) == ("Acme Europe", "Europe/London")
    response = owner_client.post(ACCOUNT, {"name": "Acme", "time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content


def test_it_adds_an_existing_user(owner_client, account, django_user_model):
    django_user_model.objects.create_user(username="carol", password="x")
    assert (
        owner_client.post(
            "/configuration/account/members/", {"username": "Carol", "role": "viewer"}
        ).status_code
        == 302
    )
    assert Membership.objects.get(account=account, user__username="carol").role == "viewer"
    response = owner_client.post("/configuration/account/members/", {"username": "nobody", "role": "viewer"})
    assert response.status_code == 400
    assert b"There is no user named" in response.content
    response = owner_client.post("/configuration/account/members/", {"username": "carol", "role": "viewer"})
    assert b"already a member" in response.content


def test_it_changes_a_role_and_removes_a_member(owner_client, account, teammate):
    membership = Membership.objects.get(account=account, user=teammate)
    owner_client.post(reverse("audience:member_role", args=[membership.pk]), {"role": "viewer"})
    membership.refresh_from_db()
    assert membership.role == "viewer"
    owner_client.post(reverse("audience:member_remove", args=[membership.pk]))
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_the_account_keeps_at_least_one_admin(owner_client, account, owner):
    mine = Membership.objects.get(account=account, user=owner)
    response = owner_client.post(
        reverse("audience:member_role", args=[mine.pk]), {"role": "marketer"}, follow=True
    )
    assert b"at least one admin" in response.content
    response = owner_client.post(reverse("audience:member_remove", args=[mine.pk]), follow=True)
    assert b"at least one admin" in response.content
    mine.refresh_from_db()
    assert mine.role == Role.ADMIN


def test_the_screen_refuses_property_names_the_api_would_refuse(owner_client, account):
    # One rule for both (audience.services.EVENT_PROPERTY_NAME): a property made here can be sent.
    data = {"name": "Purchase", "property_0": "Order total", "property_type_0": "decimal"}
    response = owner_client.post("/configuration/events/new/", data)
    assert response.status_code == 400
    assert b"is not a property name" in response.content
    assert not EventDefinition.objects.filter(account=account, name="Purchase").exists()
