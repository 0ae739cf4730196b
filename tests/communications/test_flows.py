from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from audience.models import Company
from audience.selection import Selection
from communications import selectors, services, usage
from communications.models import FlowStatus, ItemKind
from tags import services as tag_services
from tests.communications.conftest import make_profile


@pytest.fixture
def vip(account):
    return tag_services.tag_get_or_create(account=account, name="VIP")


def test_it_creates_a_draft_flow_with_its_entry_point(account, owner, vip):
    flow = services.flow_create(
        account=account, user=owner, name="Welcome", audience=services.AudienceSpec(tag_ids=[vip.pk])
    )
    assert flow.status == FlowStatus.DRAFT
    assert list(flow.items.values_list("kind", "object_id")) == [(ItemKind.TAG, vip.pk)]


def test_its_audience_is_the_union_of_tags_companies_and_selections(account, vip):
    company = Company.objects.create(account=account, name="Initech")
    tagged = make_profile(account, "Tagged")
    employee = make_profile(account, "Employee", company=company)
    chosen = make_profile(account, "Chosen")
    make_profile(account, "Nobody")
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[tagged.pk])
    flow = services.flow_create(
        account=account,
        user=None,
        name="All",
        audience=services.AudienceSpec(
            tag_ids=[vip.pk], company_ids=[company.pk], selections=[Selection(ids=[chosen.pk, tagged.pk])]
        ),
    )
    audience = selectors.flow_audience(flow=flow)
    assert set(audience.values_list("pk", flat=True)) == {tagged.pk, employee.pk, chosen.pk}
    assert selectors.audience_count(account=account, items=list(flow.items.all()), key=("t", flow.pk)) == 3


def test_adding_to_an_existing_flow_keeps_one_of_each_item(account, vip):
    flow = services.flow_create(
        account=account, user=None, name="F", audience=services.AudienceSpec(tag_ids=[vip.pk])
    )
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE)
    assert services.flow_audience_add(flow=flow, audience=services.AudienceSpec(tag_ids=[vip.pk])) == 0
    selection = Selection(ids=[make_profile(account).pk])
    assert services.flow_audience_add(flow=flow, audience=services.AudienceSpec(selections=[selection])) == 1
    assert services.flow_audience_add(flow=flow, audience=services.AudienceSpec(selections=[selection])) == 0
    assert flow.items.count() == 2


def test_it_moves_between_statuses_only_as_allowed(account, vip):
    flow = services.flow_create(account=account, user=None, name="F")
    with pytest.raises(ValidationError, match="Add an audience"):
        services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE)
    services.flow_audience_add(flow=flow, audience=services.AudienceSpec(tag_ids=[vip.pk]))
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE)
    services.flow_status_set(flow=flow, status=FlowStatus.PAUSED)
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE)
    services.flow_status_set(flow=flow, status=FlowStatus.FINISHED)
    with pytest.raises(ValidationError):
        services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE)
    with pytest.raises(ValidationError):
        services.flow_audience_add(flow=flow, audience=services.AudienceSpec(tag_ids=[vip.pk]))


def test_an_active_flows_audience_cannot_lose_items(account, vip):
    flow = services.flow_create(
        account=account, user=None, name="F", audience=services.AudienceSpec(tag_ids=[vip.pk])
    )
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE)
    with pytest.raises(ValidationError):
        services.flow_item_remove(flow=flow, item_id=flow.items.get().pk)
    services.flow_status_set(flow=flow, status=FlowStatus.PAUSED)
    assert services.flow_item_remove(flow=flow, item_id=flow.items.get().pk)


def test_it_names_the_active_flows_that_use_a_tag(account, other_account, vip):
    active = services.flow_create(
        account=account, user=None, name="Live", audience=services.AudienceSpec(tag_ids=[vip.pk])
    )
    services.flow_create(
        account=account, user=None, name="Draft", audience=services.AudienceSpec(tag_ids=[vip.pk])
    )
    assert usage.tag_usage(vip) == []
    services.flow_status_set(flow=active, status=FlowStatus.ACTIVE)
    assert usage.tag_usage(vip) == ["Flow “Live” (active)"]
    services.flow_status_set(flow=active, status=FlowStatus.PAUSED)
    assert usage.tag_usage(vip) == []
    other = tag_services.tag_get_or_create(account=other_account, name="VIP")
    assert usage.tag_usage(other) == []


def test_it_names_a_broadcast_being_sent_as_a_user_of_a_tag(account, vip):
    broadcast = services.broadcast_create(
        account=account,
        user=None,
        name="Promo",
        channel="SMS",
        sender="",
        text="x",
        audience=services.AudienceSpec(tag_ids=[vip.pk]),
    )
    assert usage.tag_usage(vip) == []  # a draft locks nothing
    type(broadcast).objects.filter(pk=broadcast.pk).update(queued_at=broadcast.created_at)
    assert usage.tag_usage(vip) == ["Broadcast “Promo” (sending)"]
