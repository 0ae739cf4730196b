"""The flow page's per-step "waiting" counts (`FlowStep.waiting`, kept by triggers on the run
table): equal to a count of the waiting runs after every way runs move — enrolment, each step
kind, a failed send, exit, pause, finish, leaving when unmatched, re-entry, a person deleted, a
chunk redone after its worker died — and the number the flow page shows."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection

from communications import flows, services
from communications.backends import MemoryBackend
from communications.models import FlowRun, FlowStatus, FlowStep, RunState, StepKind
from tags import services as tag_services
from tests.communications.conftest import make_profile
from tests.communications.test_flow_entries import T0 as ENTRY_T0
from tests.communications.test_flow_entries import tagged_flow
from tests.communications.test_flow_runs import T0, activate, flow_with

BERLIN = {
    "attributes": {"match": "all", "conditions": [{"attribute": "city", "operator": "is", "value": "Berlin"}]}
}


def waiting(flow) -> list[int]:
    """Each step's count as the flow page reads it, in step order, after checking that every
    count equals a count(*) of the step's waiting runs."""
    counts = flows.flow_step_counts(flow=flow)
    steps = list(flow.steps.order_by("position", "id"))
    for step in steps:
        exact = FlowRun.objects.filter(flow=flow, step=step, state=RunState.WAITING).count()
        assert counts.get(step.pk, 0) == exact, (
            f"step {step.position}: counter {counts.get(step.pk)}, {exact} wait"
        )
    return [counts.get(step.pk, 0) for step in steps]


def journey(account, people):
    """1 send an SMS, 2 wait a day, 3 branch (Berlin: 4, else 5), 4 exit, 5 add a tag."""
    tag = tag_services.tag_get_or_create(account=account, name="Not Berlin")
    flow = flow_with(account, people, [(StepKind.SEND, {"channel": "SMS", "text": "Hi"})])
    flows.flow_step_add(flow=flow, kind=StepKind.WAIT, config={"amount": 1, "unit": "days"})
    branch = flows.flow_step_add(flow=flow, kind=StepKind.BRANCH, config={"rule": BERLIN})
    leave = flows.flow_step_add(flow=flow, kind=StepKind.EXIT, config={})
    tagging = flows.flow_step_add(flow=flow, kind=StepKind.ADD_TAG, config={"tag": tag.pk})
    flows.flow_step_update(step=branch, config={"rule": BERLIN, "then": leave.pk, "else": tagging.pk})
    return flow


@pytest.fixture
def people(account):
    cities = ["Berlin", "Berlin", "Paris", "Paris", "Rome"]
    return [
        make_profile(account, f"P{i}", city=city, phones=[f"+49151000000{i:02d}"])
        for i, city in enumerate(cities)
    ]


def test_the_counts_follow_the_runs_through_every_step_and_a_failed_send(account, people, memory_backend):
    MemoryBackend.failing = {"+4915100000004"}  # Rome's message fails: she stops at step 1
    flow = journey(account, people)
    assert waiting(flow) == [0, 0, 0, 0, 0]  # a draft: nobody in it yet
    activate(flow)
    assert waiting(flow) == [5, 0, 0, 0, 0]
    flows.flow_runs_due(now=T0)
    assert waiting(flow) == [0, 4, 0, 0, 0]  # four wait a day, one failed
    flows.flow_runs_due(now=T0 + dt.timedelta(hours=23))
    assert waiting(flow) == [0, 4, 0, 0, 0]
    flows.flow_runs_due(now=T0 + dt.timedelta(days=1))
    assert waiting(flow) == [0, 0, 0, 0, 0]
    states = sorted(FlowRun.objects.filter(flow=flow).values_list("state", flat=True))
    assert states == [RunState.DONE] * 2 + [RunState.EXITED] * 2 + [RunState.FAILED]


def test_pause_keeps_the_counts_and_finish_ends_them(account, people):
    flow = journey(account, people)
    activate(flow)
    services.flow_status_set(flow=flow, status=FlowStatus.PAUSED)
    flows.flow_runs_due(now=T0)
    assert waiting(flow) == [5, 0, 0, 0, 0]  # paused: nobody moved
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE)
    flows.flow_runs_due(now=T0)
    assert waiting(flow) == [0, 5, 0, 0, 0]
    services.flow_status_set(flow=flow, status=FlowStatus.FINISHED)
    assert waiting(flow) == [0, 0, 0, 0, 0]


def test_leaving_when_unmatched_and_re_entry_move_the_counts(account):
    vip = tag_services.tag_get_or_create(account=account, name="VIP")
    ana, ben = make_profile(account, "Ana"), make_profile(account, "Ben")
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[ana.pk, ben.pk])
    flow = tagged_flow(
        account, vip, [(StepKind.WAIT, {"amount": 1, "unit": "days"})], leave=True, reentry=True
    )
    assert waiting(flow) == [2]
    flows.flow_runs_due(now=ENTRY_T0)
    assert waiting(flow) == [2]  # waiting out the day, still at the step
    tag_services.tags_remove(account=account, tags=[vip], profile_ids=[ana.pk])
    flows.flow_entries_refresh(now=ENTRY_T0 + dt.timedelta(minutes=5))
    assert waiting(flow) == [1]  # Ana left
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[ana.pk])
    assert flows.flow_entries_refresh(now=ENTRY_T0 + dt.timedelta(minutes=10)) == 1
    assert waiting(flow) == [2]  # she is back at step 1
    carl = make_profile(account, "Carl")
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[carl.pk])
    flows.flow_entries_refresh(now=ENTRY_T0 + dt.timedelta(minutes=15))
    assert waiting(flow) == [3]  # a newcomer entered
    flows.flow_runs_due(now=ENTRY_T0 + dt.timedelta(days=1))
    assert waiting(flow) == [2]  # Ben is done; Ana (again) and Carl began the day's wait
    flows.flow_runs_due(now=ENTRY_T0 + dt.timedelta(days=2))
    assert waiting(flow) == [0]


def test_a_deleted_person_and_a_deleted_flow_leave_no_count_behind(account, people):
    flow = journey(account, people)
    activate(flow)
    people[0].delete()  # the run goes with the person (a cascade, not the scheduler)
    assert waiting(flow) == [4, 0, 0, 0, 0]
    other = journey(account, people[1:3])
    activate(other)
    steps = list(other.steps.values_list("pk", flat=True))
    other.delete()
    assert not FlowStep.objects.filter(pk__in=steps).exists()
    assert waiting(flow) == [4, 0, 0, 0, 0]


def test_a_chunk_redone_after_its_worker_died_counts_once(account, people, memory_backend, monkeypatch):
    """The worker dies before the runs' move commits: the counts stay as they were; the redo
    (once the claim expired) moves them once."""
    flow = journey(account, people)
    activate(flow)
    original = flows._passages_record

    def dying(*args):
        original(*args)
        raise SystemExit("worker killed")

    monkeypatch.setattr(flows, "_passages_record", dying)
    with pytest.raises(SystemExit):
        flows.flow_runs_due(now=T0)
    assert waiting(flow) == [5, 0, 0, 0, 0]
    monkeypatch.setattr(flows, "_passages_record", original)
    flows.flow_runs_due(now=T0 + dt.timedelta(seconds=flows.FLOW_CLAIM_SECONDS + 1))
    assert waiting(flow) == [0, 5, 0, 0, 0]
    assert len(memory_backend.outbox) == 5  # the redo handed nothing over twice


def test_claims_and_replies_change_no_count(account, people):
    flow = flow_with(account, people[:2], [(StepKind.WAIT_REPLY, {"amount": 1, "unit": "days"})])
    activate(flow)
    flows.flow_runs_due(now=T0)
    assert waiting(flow) == [2]
    FlowRun.objects.filter(flow=flow).update(claim="x", claimed_until=T0)
    assert flows.flow_reply_received(account=account, phone="+4915100000000", text="YES", now=T0) == 1
    assert waiting(flow) == [2]


def test_the_flow_page_shows_the_counts(owner_client, account, people, memory_backend):
    flow = journey(account, people)
    activate(flow)
    flows.flow_runs_due(now=T0)
    page = owner_client.get(flow.get_absolute_url()).content.decode()
    shown = [int(n) for n in re.findall(r">(\d+) waiting</a>", page)]
    assert shown == waiting(flow)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the statement triggers are PostgreSQL's")
def test_the_migration_sets_the_counts_from_the_runs(account, people):
    """The counters of runs written before the triggers existed (the migration's backfill): the
    same UPDATE, run again, changes nothing."""
    flow = journey(account, people)
    activate(flow)
    before = waiting(flow)
    FlowStep.objects.filter(flow=flow).update(waiting=0)
    from importlib import import_module

    migration = import_module("communications.migrations.0016_flowstep_waiting")
    with connection.cursor() as cursor:
        cursor.execute(migration.BACKFILL)
    assert waiting(flow) == before == [5, 0, 0, 0, 0]
