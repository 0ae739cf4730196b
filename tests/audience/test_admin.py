"""The Django admin goes through the services and validation of the screens: the in-use lock,
the rule engine, sentences instead of constraint names, and read-only job and send records."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from audience.models import Company
from communications import services as communication_services
from communications.models import FlowStatus
from segments import services as segment_services
from segments.models import Segment
from tags import services as tag_services
from tags.models import Tag

RULE = {
    "version": 1,
    "attributes": {
        "match": "all",
        "conditions": [{"attribute": "city", "operator": "is", "value": "London"}],
    },
}


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "a long passphrase")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def londoners(account):
    return segment_services.segment_create(account=account, name="Londoners", rule=RULE)


@pytest.fixture
def active_flow(account, londoners):
    flow = communication_services.flow_create(
        account=account,
        user=None,
        name="London journey",
        audience=communication_services.AudienceSpec(segment_ids=[londoners.pk]),
    )
    return communication_services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE)


def segment_form(segment, **changes) -> dict:
    data = {
        "name": segment.name,
        "description": segment.description,
        "rule": json.dumps(segment.rule),
    }
    data.update(changes)
    return data


def test_it_refuses_to_rename_a_segment_an_active_flow_uses(admin_client, londoners, active_flow):
    url = reverse("admin:segments_segment_change", args=[londoners.pk])
    response = admin_client.post(url, segment_form(londoners, name="Renamed"))
    assert response.status_code == 200
    assert "London journey" in response.content.decode() and "while in use" in response.content.decode()
    assert Segment.objects.get(pk=londoners.pk).name == "Londoners"


def test_it_refuses_to_delete_a_segment_an_active_flow_uses(admin_client, londoners, active_flow):
    response = admin_client.post(
        reverse("admin:segments_segment_delete", args=[londoners.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    changelist = reverse("admin:segments_segment_changelist")
    admin_client.post(changelist, {"action": "delete_segments", "_selected_action": [londoners.pk]})
    assert Segment.objects.filter(pk=londoners.pk).exists()
    assert "delete_selected" not in admin_client.get(changelist).content.decode()


def test_it_deletes_a_segment_nobody_uses_through_the_service(admin_client, londoners):
    response = admin_client.post(
        reverse("admin:segments_segment_delete", args=[londoners.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Segment.objects.filter(pk=londoners.pk).exists()


def test_it_refuses_an_invalid_rule(admin_client, account, londoners):
    bogus = {
        "version": 1,
        "attributes": {
            "match": "all",
            "conditions": [{"attribute": "city", "operator": "bogus", "value": "x"}],
        },
    }
    url = reverse("admin:segments_segment_change", args=[londoners.pk])
    response = admin_client.post(url, segment_form(londoners, rule=json.dumps(bogus)))
    assert response.status_code == 200
    assert "attributes.conditions[0]" in response.content.decode()
    assert Segment.objects.get(pk=londoners.pk).rule == londoners.rule
    added = admin_client.post(
        reverse("admin:segments_segment_add"),
        {"account": account.pk, "name": "Bogus", "rule": json.dumps(bogus)},
    )
    assert added.status_code == 200 and not Segment.objects.filter(name="Bogus").exists()


def test_it_adds_a_segment_through_the_service(admin_client, account, superuser):
    response = admin_client.post(
        reverse("admin:segments_segment_add"),
        {"account": account.pk, "name": "Paris", "rule": json.dumps(RULE)},
    )
    assert response.status_code == 302
    assert Segment.objects.get(name="Paris").created_by == superuser


def test_it_says_a_segment_name_is_taken_in_a_sentence(admin_client, account, londoners):
    response = admin_client.post(
        reverse("admin:segments_segment_add"),
        {"account": account.pk, "name": "LONDONERS", "rule": json.dumps(RULE)},
    )
    body = response.content.decode()
    assert "A segment with this name already exists in this account." in body
    assert "segment_name_unique_ci" not in body


def test_it_says_a_tag_name_is_taken_in_a_sentence(admin_client, account):
    tag_services.tag_create(account=account, name="VIP")
    response = admin_client.post(reverse("admin:tags_tag_add"), {"account": account.pk, "name": "vip"})
    body = response.content.decode()
    assert "A tag with this name already exists in this account." in body and "tag_name_unique_ci" not in body
    assert Tag.objects.count() == 1


def test_it_says_a_company_name_is_taken_in_a_sentence(admin_client, account):
    Company.objects.create(account=account, name="Acme d.o.o.")
    response = admin_client.post(
        reverse("admin:audience_company_add"), {"account": account.pk, "name": "ACME D.O.O."}
    )
    body = response.content.decode()
    assert (
        "A company with this name already exists in this account." in body
        and "company_name_unique_ci" not in body
    )


def test_it_refuses_to_rename_or_delete_a_tag_an_active_flow_uses(admin_client, account):
    tag = tag_services.tag_create(account=account, name="VIP")
    flow = communication_services.flow_create(
        account=account,
        user=None,
        name="VIP journey",
        audience=communication_services.AudienceSpec(tag_ids=[tag.pk]),
    )
    communication_services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE)
    response = admin_client.post(reverse("admin:tags_tag_change", args=[tag.pk]), {"name": "Gold"})
    assert "VIP journey" in response.content.decode()
    assert (
        admin_client.post(reverse("admin:tags_tag_delete", args=[tag.pk]), {"post": "yes"}).status_code == 403
    )
    assert Tag.objects.get(pk=tag.pk).name == "VIP"


@pytest.mark.parametrize(
    "model",
    [
        "communications/broadcast",
        "communications/flow",
        "communications/audienceitem",
        "communications/message",
        "imports/importjob",
        "imports/exportjob",
        "dnc/dncremovejob",
    ],
)
def test_it_lists_communications_and_jobs_read_only(admin_client, model, active_flow):
    app, name = model.split("/")
    assert admin_client.get(reverse(f"admin:{app}_{name}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:{app}_{name}_add")).status_code == 403


def test_it_shows_a_flow_without_letting_its_status_change(admin_client, active_flow):
    url = reverse("admin:communications_flow_change", args=[active_flow.pk])
    assert admin_client.get(url).status_code == 200
    admin_client.post(url, {"name": "Renamed", "status": "draft"})
    active_flow.refresh_from_db()
    assert (active_flow.name, active_flow.status) == ("London journey", FlowStatus.ACTIVE)


@pytest.mark.parametrize("who", ["owner_client", "teammate_client", "outsider_client"])
def test_it_keeps_account_members_out_of_the_django_admin(request, who):
    response = request.getfixturevalue(who).get(reverse("admin:segments_segment_changelist"))
    assert response.status_code == 302 and "/login/" in response["Location"]
