"""Per step, who passed and who failed: exact for every kind of step (`FlowPassage`, written with
the runs' move in one transaction), once per person however often they go through the step, and
never twice for a chunk redone after its worker died. The lists behind the counts through the
real URLs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse

from communications import flows
from communications.backends import MemoryBackend
from communications.models import FlowPassage, FlowRun, FlowStep, RunState, StepKind
from tags import services as tag_services
from tests.communications.conftest import make_profile
from tests.communications.test_flow_runs import T0, activate, flow_with

BERLIN = {
    "attributes": {"match": "all", "conditions": [{"attribute": "city", "operator": "is", "value": "Berlin"}]}
}


def counts(flow) -> list[tuple[str, int, int]]:
    return [(s.kind, s.passed, s.failed) for s in flow.steps.order_by("position")]


def listed(step: FlowStep, failed: bool = False) -> set[int]:
    return set(FlowPassage.objects.filter(step=step, failed=failed).values_list("profile_id", flat=True))


def branchy_flow(account, people):
    """1 add tag, 2 branch (Berlin: 3, else 4), 3 exit, 4 remove tag."""
    tag = tag_services.tag_get_or_create(account=account, name="Seen")
    flow = flow_with(account, people, [(StepKind.ADD_TAG, {"tag": tag.pk})])
    branch = flows.flow_step_add(flow=flow, kind=StepKind.BRANCH, config={"rule": BERLIN})
    leave = flows.flow_step_add(flow=flow, kind=StepKind.EXIT, config={})
    untag = flows.flow_step_add(flow=flow, kind=StepKind.REMOVE_TAG, config={"tag": tag.pk})
    flows.flow_step_update(step=branch, config={"rule": BERLIN, "then": leave.pk, "else": untag.pk})
    return flow


def test_it_counts_who_passed_each_kind_of_step_exactly(account):
    berlin = make_profile(account, "B", city="Berlin")
    paris = make_profile(account, "P", city="Paris")
    flow = branchy_flow(account, [berlin, paris])
    activate(flow)
    flows.flow_runs_due(now=T0)
    tagging, branch, leave, untag = flow.steps.order_by("position")
    assert counts(flow) == [("add_tag", 2, 0), ("branch", 2, 0), ("exit", 1, 0), ("remove_tag", 1, 0)]
    assert listed(tagging) == listed(branch) == {berlin.pk, paris.pk}
    assert listed(leave) == {berlin.pk}  # the branch sent only Berlin there
    assert listed(untag) == {paris.pk}
    assert {p.at for p in FlowPassage.objects.filter(step__flow=flow)} == {T0}


def test_it_counts_a_person_once_however_often_a_loop_takes_them_through(account):
    """2 wait a day, 3 branch: Berlin leaves, else back to the wait. Paris goes round three times."""
    berlin = make_profile(account, "B", city="Berlin")
    paris = make_profile(account, "P", city="Paris")
    flow = flow_with(account, [berlin, paris], [(StepKind.EXIT, {})])
    leave = flow.steps.get()
    wait = flows.flow_step_add(flow=flow, kind=StepKind.WAIT, config={"amount": 1, "unit": "days"})
    branch = flows.flow_step_add(
        flow=flow, kind=StepKind.BRANCH, config={"rule": BERLIN, "then": leave.pk, "else": wait.pk}
    )
    flows.flow_step_move(step=leave, up=False)
    flows.flow_step_move(step=leave, up=False)  # wait, branch, exit
    activate(flow)
    for day in range(4):
        flows.flow_runs_due(now=T0 + dt.timedelta(days=day, minutes=1))
    assert FlowRun.objects.get(flow=flow, profile=paris).step_id == wait.pk  # still looping
    assert counts(flow) == [("wait", 2, 0), ("branch", 2, 0), ("exit", 1, 0)]
    assert listed(branch) == {berlin.pk, paris.pk} and listed(leave) == {berlin.pk}


def test_who_failed_is_listed_with_the_error(account):
    ana = make_profile(account, "Ana", phones=["+4915100000001"])
    ben = make_profile(account, "Ben", phones=["+4915100000002"])
    MemoryBackend.failing = {"+4915100000002"}
    flow = flow_with(account, [ana, ben], [(StepKind.SEND, {"channel": "SMS", "text": "Hi"})])
    activate(flow)
    flows.flow_runs_due(now=T0)
    (send,) = flow.steps.all()
    assert counts(flow) == [("send", 1, 1)]
    assert listed(send) == {ana.pk}
    assert list(FlowPassage.objects.filter(step=send, failed=True).values_list("profile_id", "error")) == [
        (ben.pk, "The message could not be sent.")
    ]


def test_a_chunk_redone_after_its_worker_died_counts_nobody_twice(account, monkeypatch):
    """The worker dies after recording the passages, before the runs' move commits: nothing of
    the move is kept (runs, passages, counts); the redo, once the claim expired, counts once."""
    people = [make_profile(account, f"P{i}", city="Berlin") for i in range(3)]
    flow = branchy_flow(account, people)
    activate(flow)
    original = flows._passages_record

    def dying(*args):
        original(*args)
        raise SystemExit("worker killed")

    monkeypatch.setattr(flows, "_passages_record", dying)
    with pytest.raises(SystemExit):
        flows.flow_runs_due(now=T0)
    assert counts(flow)[0] == ("add_tag", 0, 0) and not FlowPassage.objects.exists()
    assert set(FlowRun.objects.filter(flow=flow).values_list("step__position", flat=True)) == {1}
    monkeypatch.setattr(flows, "_passages_record", original)
    flows.flow_runs_due(now=T0 + dt.timedelta(seconds=flows.FLOW_CLAIM_SECONDS + 1))
    assert counts(flow) == [("add_tag", 3, 0), ("branch", 3, 0), ("exit", 3, 0), ("remove_tag", 0, 0)]
    # Recording the same people again (a second worker with an expired claim) adds nobody.
    tagging = flow.steps.get(position=1)
    flows._passages_record(tagging, [p.pk for p in people], [], T0)
    tagging.refresh_from_db()
    assert (tagging.passed, FlowPassage.objects.filter(step=tagging).count()) == (3, 3)


def test_the_generic_insert_counts_as_the_postgresql_one(account, monkeypatch):
    """SQLite's path (VALUES lists of 200 rows) inserts and counts the same, skipping repeats."""
    people = [make_profile(account, f"P{i}") for i in range(250)]
    flow = flow_with(account, people, [(StepKind.EXIT, {})])
    step = flow.steps.get()
    monkeypatch.setattr(connection, "vendor", "sqlite")
    rows = [(p.pk, "") for p in people]
    assert flows._passages_insert(account.pk, step.pk, False, rows[:100], T0) == 100
    assert flows._passages_insert(account.pk, step.pk, False, rows, T0) == 150
    assert flows._passages_insert(account.pk, step.pk, True, rows[:1], T0) == 1


def test_the_passed_and_failed_lists_show_the_people_counted(
    owner_client, viewer_client, outsider_client, account
):
    berlin = make_profile(account, "Bea", city="Berlin")
    paris = make_profile(account, "Pia", city="Paris")
    flow = branchy_flow(account, [berlin, paris])
    activate(flow)
    flows.flow_runs_due(now=T0)
    leave = flow.steps.get(kind=StepKind.EXIT)
    url = reverse("communications:flow_step_people", args=[flow.pk, leave.pk, "passed"])
    for client in (owner_client, viewer_client):
        text = client.get(url).text
        assert "1 passed" in text
        assert (
            f'href="{berlin.get_absolute_url()}"' in text and f'href="{paris.get_absolute_url()}"' not in text
        )
    failed = owner_client.get(reverse("communications:flow_step_people", args=[flow.pk, leave.pk, "failed"]))
    assert "Nobody failed here." in failed.text
    assert outsider_client.get(url).status_code == 404
    page = owner_client.get(flow.get_absolute_url()).text
    assert (
        page.count("1 passed") == 2 and page.count("2 passed") == 2
    )  # exit and remove tag; add tag and branch
    assert RunState.EXITED in set(FlowRun.objects.filter(flow=flow).values_list("state", flat=True))
