"""Segments as audiences, and the lock an active flow puts on them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from communications import services
from communications.models import Flow, FlowStatus, MessageStatus
from segments import services as segment_services
from tests.communications.conftest import block, make_profile, send

LONDON = {
    "version": 1,
    "attributes": {
        "match": "all",
        "conditions": [{"attribute": "city", "operator": "is", "value": "London"}],
    },
}


@pytest.fixture
def londoners(account):
    return segment_services.segment_create(account=account, name="Londoners", rule=LONDON)


def test_it_sends_to_a_segment_with_dnc_applied(account, londoners, memory_backend):
    ana = make_profile(account, "Ana", phones=["+385912345678"], city="London")
    ben = make_profile(account, "Ben", phones=["+385912345679"], city="London")
    make_profile(account, "Pia", phones=["+385912345670"], city="Paris")
    block([account], "+385912345679", channel="SMS")
    broadcast = services.broadcast_create(
        account=account,
        user=None,
        name="London",
        channel="SMS",
        sender="",
        text="Hi",
        audience=services.AudienceSpec(segment_ids=[londoners.pk]),
    )
    broadcast = send(broadcast)
    assert dict(broadcast.messages.values_list("profile_id", "status")) == {
        ana.pk: MessageStatus.SENT,
        ben.pk: MessageStatus.BLOCKED_DNC,
    }
    assert [m.profile_id for m in memory_backend.outbox] == [ana.pk]


def test_a_segment_in_an_active_flow_cant_be_edited_or_deleted(account, londoners):
    flow = services.flow_create(
        account=account,
        user=None,
        name="London journey",
        audience=services.AudienceSpec(segment_ids=[londoners.pk]),
    )
    segment_services.segment_update(segment=londoners, name="Londoners", rule=LONDON)  # a draft locks nothing
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE)
    with pytest.raises(ValidationError, match="London journey"):
        segment_services.segment_update(segment=londoners, name="Renamed", rule=LONDON)
    with pytest.raises(ValidationError, match="London journey"):
        segment_services.segments_delete(account=account, segment_ids=[londoners.pk])
    services.flow_status_set(flow=flow, status=FlowStatus.PAUSED)
    assert segment_services.segments_delete(account=account, segment_ids=[londoners.pk]) == 1


def test_it_creates_a_flow_from_a_segment_through_its_url(owner_client, account, londoners):
    url = reverse("communications:add_to_flow")
    page = owner_client.get(f"{url}?segment={londoners.pk}")
    assert page.status_code == 200 and "Londoners" in page.text
    owner_client.post(url, {"segment": londoners.pk, "target": "new", "name": "From segment"})
    flow = Flow.objects.get(name="From segment")
    assert list(flow.items.values_list("kind", "object_id")) == [("segment", londoners.pk)]


def test_an_outsider_cant_use_another_accounts_segment(outsider_client, londoners):
    url = reverse("communications:add_to_flow")
    assert outsider_client.get(f"{url}?segment={londoners.pk}").status_code == 404
    assert (
        outsider_client.get(reverse("communications:broadcast_new") + f"?segment={londoners.pk}").status_code
        == 404
    )
