"""A flow's enrolment on a real hot standby (tests/replicas/conftest.py): the entries task reads
the entry audience's profile ids on the standby, in keyset chunks, and inserts the runs on the
primary, enrolling the people the primary's audience holds; with replay paused after a person
started to match, it reads the primary and enrols them too. Activation enrols inside the
transaction that activates the flow, so it reads the primary."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.db import connections
from django.test.utils import CaptureQueriesContext

from audience import replicas
from communications import flows, selectors, services
from communications.models import FlowRun, FlowStatus, StepKind
from tags import services as tag_services
from tests.communications.conftest import make_profile
from tests.replicas.conftest import replayed

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not (settings.IS_POSTGRES and replicas.aliases(mirrors=True)),
        reason="needs PostgreSQL and DATABASE_REPLICA_URLS (a standby: bin/standby-start)",
    ),
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

T0 = dt.datetime(2026, 3, 31, 8, 0, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(minutes=5)
WRITES = {"INSERT", "UPDATE", "DELETE"}


def _profile_reads(captured: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in captured.captured_queries
        if '"audience_profile"' in q["sql"] and q["sql"].split()[0] not in WRITES
    ]


def _chunks(captured: CaptureQueriesContext) -> list[str]:
    return [
        sql for sql in _profile_reads(captured) if '"audience_profile"."id" >' in sql and "LIMIT 2" in sql
    ]


@pytest.fixture
def vip(account, other_account):
    """A VIP tag with three people, a fourth person without it, a VIP of another account."""
    tag = tag_services.tag_get_or_create(account=account, name="VIP")
    people = [make_profile(account, name) for name in ("Ana", "Ben", "Cvita")]
    make_profile(account, "Dora")
    tag_services.tags_add(account=account, tags=[tag], profile_ids=[p.pk for p in people])
    other = tag_services.tag_get_or_create(account=other_account, name="VIP")
    tag_services.tags_add(account=other_account, tags=[other], profile_ids=[make_profile(other_account).pk])
    return tag


@pytest.fixture
def flow(account, vip, standby, observe, monkeypatch):
    """An active flow entered by the VIP tag (activated, so enrolled, on the primary), the
    enrolment chunks two people at a time."""
    monkeypatch.setattr(flows, "ENROL_CHUNK", 2)
    flow = services.flow_create(
        account=account, user=None, name="VIP care", audience=services.AudienceSpec(tag_ids=[vip.pk])
    )
    flows.flow_step_add(flow=flow, kind=StepKind.WAIT, config={"amount": 2, "unit": "days"})
    replayed(observe)
    with CaptureQueriesContext(connections[standby]) as on_standby:
        services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE, now=T0)
    assert not _profile_reads(on_standby)  # inside the activation's transaction: the primary
    assert FlowRun.objects.filter(flow=flow).count() == 3
    return flow


def _enrolled(flow) -> set[int]:
    return set(FlowRun.objects.filter(flow=flow).values_list("profile_id", flat=True))


def _audience(flow) -> set[int]:
    with replicas.replica_reads(account_id=None, primary=True):
        return set(selectors.flow_audience(flow=flow).values_list("pk", flat=True))


def test_the_entries_task_reads_the_audience_on_the_standby(account, vip, flow, standby, observe):
    # Two more people start to match (and one not in the account's audience does not).
    new = [make_profile(account, name) for name in ("Eva", "Filip")]
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[p.pk for p in new])
    FlowRun.objects.filter(flow=flow, profile__first_name="Ana").delete()  # she enters again too
    replayed(observe)
    with (
        CaptureQueriesContext(connections[standby]) as on_standby,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        assert flows.flow_entries_refresh(now=LATER) == 3
    # The audience's ids two at a time on the standby (5 people: 3 chunks and an empty one),
    # none on the primary; nothing written on the standby, the runs inserted on the primary.
    assert len(_chunks(on_standby)) == 4
    assert not _chunks(on_primary)
    assert not [q for q in on_standby.captured_queries if q["sql"].split()[0] in WRITES]
    inserts = [q["sql"] for q in on_primary.captured_queries if q["sql"].startswith("INSERT INTO")]
    assert len([sql for sql in inserts if "communications_flowrun" in sql]) == 3
    assert _enrolled(flow) == _audience(flow) and len(_audience(flow)) == 5


def test_the_entries_task_reads_the_primary_when_the_standby_has_not_replayed_a_new_match(
    account, vip, flow, standby, observe, monkeypatch
):
    monkeypatch.setattr(replicas, "JOB_WAIT_SECONDS", 0.3)
    replayed(observe)
    observe["standby"].execute("SELECT pg_wal_replay_pause()")
    fresh = make_profile(account, "Freshly")
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[fresh.pk])
    with (
        CaptureQueriesContext(connections[standby]) as on_standby,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        assert flows.flow_entries_refresh(now=LATER) == 1
    assert not _profile_reads(on_standby)
    assert len(_chunks(on_primary)) == 3  # 4 people, two at a time, then none
    assert fresh.pk in _enrolled(flow) and _enrolled(flow) == _audience(flow)
