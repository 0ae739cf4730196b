"""Activation checks the flow's status again under its lock: a request that read the flow before
another one changed it (two tabs, a double click) gets what the status now allows. Without
replicas (SQLite included); tests/replicas/test_flows.py runs the same against a real standby."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from communications import flows, services
from communications.models import Flow, FlowRun, FlowStatus, StepKind
from tags import services as tag_services
from tests.communications.conftest import make_profile


@pytest.fixture
def draft(account):
    vip = tag_services.tag_get_or_create(account=account, name="VIP")
    people = [make_profile(account, name) for name in ("Ana", "Ben")]
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[p.pk for p in people])
    flow = services.flow_create(
        account=account, user=None, name="VIP care", audience=services.AudienceSpec(tag_ids=[vip.pk])
    )
    flows.flow_step_add(flow=flow, kind=StepKind.WAIT, config={"amount": 2, "unit": "days"})
    return flow


def test_it_activates_a_stale_copy_again_as_once(draft):
    stale = Flow.objects.get(pk=draft.pk)
    services.flow_status_set(flow=draft, status=FlowStatus.ACTIVE)
    services.flow_status_set(flow=stale, status=FlowStatus.ACTIVE)  # no error, no second enrolment
    assert stale.status == FlowStatus.ACTIVE
    assert FlowRun.objects.filter(flow=draft).count() == 2


def test_a_stale_copy_resumes_a_paused_flow_without_enrolling_again(draft):
    stale = Flow.objects.get(pk=draft.pk)
    services.flow_status_set(flow=draft, status=FlowStatus.ACTIVE)
    services.flow_status_set(flow=draft, status=FlowStatus.PAUSED)
    FlowRun.objects.filter(flow=draft).delete()
    services.flow_status_set(flow=stale, status=FlowStatus.ACTIVE)
    assert Flow.objects.get(pk=draft.pk).status == FlowStatus.ACTIVE
    assert not FlowRun.objects.filter(flow=draft).exists()  # resumed, not activated


def test_a_stale_copy_cannot_activate_a_finished_flow(draft):
    stale = Flow.objects.get(pk=draft.pk)
    services.flow_status_set(flow=draft, status=FlowStatus.ACTIVE)
    services.flow_status_set(flow=draft, status=FlowStatus.FINISHED)
    with pytest.raises(ValidationError, match="The flow is finished now"):
        services.flow_status_set(flow=stale, status=FlowStatus.ACTIVE)
    assert Flow.objects.get(pk=draft.pk).status == FlowStatus.FINISHED
