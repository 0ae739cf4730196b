"""The flow page's steps through the real URLs: an owner and a teammate edit them, a viewer may
not, an outsider sees nothing; an active flow's steps are locked; a tag or a sender a running step
uses can't be deleted, and the refusal names the flow."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from audience.selection import Selection
from communications import flows, services
from communications.models import FlowStatus, FlowStep, Sender, StepKind
from tags import services as tag_services
from tags.models import Tag
from tests.communications.conftest import make_profile, sender_for

T0 = dt.datetime(2026, 1, 30, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def ana(account):
    return make_profile(account, "Ana", phones=["+4915112345678"])


@pytest.fixture
def flow(account, ana):
    return services.flow_create(
        account=account,
        user=None,
        name="Welcome",
        audience=services.AudienceSpec(selections=[Selection(ids=[ana.pk])]),
    )


def add_url(flow):
    return reverse("communications:flow_step_add", args=[flow.pk])


@pytest.mark.parametrize("who", ["owner_client", "teammate_client"])
def test_an_editor_adds_moves_edits_and_removes_steps(request, who, account, flow):
    client = request.getfixturevalue(who)
    tag = tag_services.tag_get_or_create(account=account, name="Welcomed")
    client.post(add_url(flow), {"kind": "wait", "mode": "duration", "amount": "2", "unit": "hours"})
    client.post(add_url(flow), {"kind": "add_tag", "tag": tag.pk})
    wait, tagging = flow.steps.order_by("position")
    assert (wait.config, tagging.config) == (
        {"mode": "duration", "amount": 2, "unit": "hours"},
        {"tag": tag.pk},
    )
    client.post(reverse("communications:flow_step_move", args=[flow.pk, tagging.pk]), {"direction": "up"})
    assert list(flow.steps.order_by("position").values_list("kind", flat=True)) == ["add_tag", "wait"]
    client.post(
        reverse("communications:flow_step_edit", args=[flow.pk, wait.pk]),
        {"mode": "time_of_day", "time": "09:30"},
    )
    wait.refresh_from_db()
    assert wait.config == {"mode": "time_of_day", "time": "09:30"}
    page = client.get(flow.get_absolute_url())
    assert "until 09:30 (the account&#x27;s time zone)" in page.text and "Welcomed" in page.text
    client.post(reverse("communications:flow_step_remove", args=[flow.pk, tagging.pk]))
    assert list(flow.steps.values_list("kind", "position")) == [("wait", 1)]


def test_a_bad_step_is_refused_with_its_reason(owner_client, flow):
    response = owner_client.post(
        add_url(flow), {"kind": "wait", "mode": "time_of_day", "time": "9 am"}, follow=True
    )
    assert "&#x27;9 am&#x27; is not a time of day: write it as 09:30." in response.text
    response = owner_client.post(add_url(flow), {"kind": "branch", "rule": "{not json"}, follow=True)
    assert "The rule is not valid JSON" in response.text
    assert not flow.steps.exists()


def test_a_branch_names_its_targets(owner_client, flow):
    owner_client.post(add_url(flow), {"kind": "exit"})
    leave = flow.steps.get()
    owner_client.post(add_url(flow), {"kind": "branch", "reply_contains": "yes", "else": leave.pk})
    branch = flow.steps.get(kind=StepKind.BRANCH)
    assert branch.config == {"then": None, "else": leave.pk, "reply_contains": "yes"}
    page = owner_client.get(flow.get_absolute_url())
    assert "if the reply contains “yes”: the next step, else step 1" in page.text


def test_a_viewer_may_not_edit_steps_and_an_outsider_sees_nothing(viewer_client, outsider_client, flow):
    assert viewer_client.post(add_url(flow), {"kind": "exit"}).status_code == 403
    assert "Add a step" not in viewer_client.get(flow.get_absolute_url()).text
    assert outsider_client.post(add_url(flow), {"kind": "exit"}).status_code == 404
    assert outsider_client.get(flow.get_absolute_url()).status_code == 404
    flows.flow_step_add(flow=flow, kind=StepKind.EXIT, config={})
    step = flow.steps.get()
    for name in ("flow_step_edit", "flow_step_remove", "flow_step_move"):
        assert (
            outsider_client.post(reverse(f"communications:{name}", args=[flow.pk, step.pk])).status_code
            == 404
        )
    assert FlowStep.objects.filter(pk=step.pk).exists()


def test_an_active_flows_steps_are_locked_and_show_their_counts(owner_client, account, flow, ana):
    flows.flow_step_add(flow=flow, kind=StepKind.WAIT, config={"amount": 1, "unit": "days"})
    flows.flow_step_add(flow=flow, kind=StepKind.EXIT, config={})
    owner_client.post(reverse("communications:flow_status", args=[flow.pk]), {"status": "active"})
    flow.refresh_from_db()
    assert flow.status == FlowStatus.ACTIVE
    flows.flow_runs_due(now=dt.datetime.now(dt.UTC))
    page = owner_client.get(flow.get_absolute_url())
    assert "1 waiting" in page.text and "Locked while the flow is active" in page.text
    assert "Add a step" not in page.text
    response = owner_client.post(add_url(flow), {"kind": "exit"}, follow=True)
    assert "The steps of an active flow are locked" in response.text
    assert flow.steps.count() == 2


def test_a_tag_or_sender_an_active_flows_step_uses_cannot_be_deleted(owner_client, account, flow):
    tag = tag_services.tag_get_or_create(account=account, name="Replied")
    sender_for(account, "SMS", "ACME")
    flows.flow_step_add(
        flow=flow, kind=StepKind.SEND, config={"channel": "SMS", "sender": "ACME", "text": "Hi"}
    )
    flows.flow_step_add(flow=flow, kind=StepKind.ADD_TAG, config={"tag": tag.pk})
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE, now=T0)
    response = owner_client.post(reverse("tags:delete"), {"one": tag.pk}, follow=True)
    assert "“Replied” is used by Flow “Welcome” (active)" in response.text
    assert Tag.objects.filter(pk=tag.pk).exists()
    sender = Sender.objects.get(account=account, address="ACME")
    response = owner_client.post(reverse("communications:sender_delete", args=[sender.pk]), follow=True)
    assert "ACME can&#x27;t be deleted: it is the sender of “Welcome”." in response.text
    services.flow_status_set(flow=flow, status=FlowStatus.FINISHED)
    owner_client.post(reverse("tags:delete"), {"one": tag.pk})
    assert not Tag.objects.filter(pk=tag.pk).exists()


def test_each_step_count_links_to_the_people_behind_it(
    owner_client, teammate_client, outsider_client, account
):
    from communications.backends import MemoryBackend

    people = [make_profile(account, name, phones=[f"+49151000000{i}"]) for i, name in enumerate("ABC")]
    a, b, c = people
    MemoryBackend.failing = {"+491510000001"}  # b's message is refused
    flow = services.flow_create(
        account=account,
        user=None,
        name="Counts",
        audience=services.AudienceSpec(selections=[Selection(ids=[p.pk for p in people])]),
    )
    send = flows.flow_step_add(flow=flow, kind=StepKind.SEND, config={"channel": "SMS", "text": "Hi"})
    wait = flows.flow_step_add(flow=flow, kind=StepKind.WAIT, config={"amount": 1, "unit": "days"})
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE, now=T0)
    flows.flow_runs_due(now=T0)

    def people_url(step, which):
        return reverse("communications:flow_step_people", args=[flow.pk, step.pk, which])

    page = owner_client.get(flow.get_absolute_url()).text
    for step, which in [(send, "waiting"), (send, "passed"), (send, "failed"), (wait, "waiting")]:
        assert f'href="{people_url(step, which)}"' in page

    def names(client, step, which):
        response = client.get(people_url(step, which))
        assert response.status_code == 200
        return {p.display_name for p in people if f'href="{p.get_absolute_url()}"' in response.text}

    for client in (owner_client, teammate_client):
        assert names(client, send, "passed") == {a.display_name, c.display_name}
        assert names(client, send, "failed") == {b.display_name}
        assert names(client, send, "waiting") == set()
        assert names(client, wait, "waiting") == {a.display_name, c.display_name}
        assert names(client, wait, "passed") == set()
    assert "2 waiting" in owner_client.get(people_url(wait, "waiting")).text
    assert owner_client.get(people_url(wait, "nobody")).status_code == 404
    for which in ("waiting", "passed", "failed"):
        assert outsider_client.get(people_url(send, which)).status_code == 404


def test_a_step_people_list_pages_through_50_at_a_time(owner_client, account):
    from audience.models import Profile
    from communications.models import FlowRun, RunState

    flow = services.flow_create(
        account=account, user=None, name="Many", audience=services.AudienceSpec(selections=[Selection()])
    )
    wait = flows.flow_step_add(flow=flow, kind=StepKind.WAIT, config={"amount": 1, "unit": "days"})
    profiles = Profile.objects.bulk_create(
        [Profile(account=account, first_name=f"P{i:03}") for i in range(120)]
    )
    FlowRun.objects.bulk_create(
        [
            FlowRun(account=account, flow=flow, profile=p, step=wait, state=RunState.WAITING, due_at=T0)
            for p in profiles
        ]
    )
    url = reverse("communications:flow_step_people", args=[flow.pk, wait.pk, "waiting"])
    seen = []
    for number, expected in ((1, 50), (2, 50), (3, 20)):
        text = owner_client.get(url, {"page": number}).text
        shown = [p.pk for p in profiles if f'href="{p.get_absolute_url()}"' in text]
        assert len(shown) == expected
        assert ('href="?page=' + str(number + 1) + '"' in text) == (number < 3)
        seen += shown
    assert sorted(seen) == sorted(p.pk for p in profiles)  # each person on one page only


def test_an_editor_edits_a_copy_of_an_active_flow(
    owner_client, viewer_client, outsider_client, account, flow, ana
):
    """The steps of an active flow are locked: "Edit a copy" makes a draft with its audience,
    options and steps (a branch pointed at the copy's own steps), with nobody in it."""
    from communications.models import FlowRun

    leave = flows.flow_step_add(flow=flow, kind=StepKind.EXIT, config={})
    branch = flows.flow_step_add(
        flow=flow, kind=StepKind.BRANCH, config={"reply_contains": "yes", "then": leave.pk}
    )
    flows.flow_options_set(flow=flow, leave_when_unmatched=True, allow_reentry=False)
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE, now=T0)
    url = reverse("communications:flow_copy", args=[flow.pk])
    assert 'action="' + url + '"' in owner_client.get(flow.get_absolute_url()).text
    assert viewer_client.post(url).status_code == 403
    assert outsider_client.post(url).status_code == 404
    response = owner_client.post(url, follow=True)
    copy = flow.__class__.objects.exclude(pk=flow.pk).get()
    assert response.redirect_chain[-1][0] == copy.get_absolute_url() + "#steps"
    assert "“Copy of Welcome” is a draft copy of “Welcome”" in response.text
    assert (copy.status, copy.name, copy.leave_when_unmatched) == (FlowStatus.DRAFT, "Copy of Welcome", True)
    assert [(i.kind, i.selection) for i in copy.items.all()] == [
        (i.kind, i.selection) for i in flow.items.all()
    ]
    exit_copy, branch_copy = copy.steps.order_by("position")
    assert (exit_copy.kind, branch_copy.kind) == (StepKind.EXIT, StepKind.BRANCH)
    assert branch_copy.config == {"reply_contains": "yes", "then": exit_copy.pk, "else": None}
    assert branch.config["then"] == leave.pk  # the original is untouched
    assert not FlowRun.objects.filter(flow=copy).exists()
    owner_client.post(reverse("communications:flow_step_remove", args=[copy.pk, branch_copy.pk]))
    assert copy.steps.count() == 1 and flow.steps.count() == 2  # the copy is editable
