"""Flows that run: enrolment, the scheduler with a fixed clock (`now=`), each step kind, replies,
pause/resume/finish, and a send step redone after a crash (one message at a real SMTP server)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from audience.selection import Selection
from communications import flows, services
from communications.models import FlowMessage, FlowRun, FlowStatus, MessageStatus, RunState, StepKind
from dnc.models import DncEntry, DncEntryAccount, Source
from tags import services as tag_services
from tags.models import ProfileTag
from tests.communications.conftest import block, make_profile, sender_for
from tests.communications.servers import smtp_server

T0 = dt.datetime(2026, 1, 30, 12, 0, tzinfo=dt.UTC)


def flow_with(account, profiles, steps, name="Onboarding"):
    flow = services.flow_create(
        account=account,
        user=None,
        name=name,
        audience=services.AudienceSpec(selections=[Selection(ids=[p.pk for p in profiles])]),
    )
    for kind, config in steps:
        flows.flow_step_add(flow=flow, kind=kind, config=config)
    return flow


def activate(flow, now=T0):
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE, now=now)
    flow.refresh_from_db()


def run_of(flow, profile) -> FlowRun:
    return FlowRun.objects.select_related("step").get(flow=flow, profile=profile)


def test_activation_enrols_the_audience_at_step_one_due_now(account, other_account):
    people = [make_profile(account, f"P{i}") for i in range(3)]
    stranger = make_profile(other_account, "Stranger")
    flow = flow_with(account, people + [stranger], [(StepKind.EXIT, {})])
    activate(flow)
    runs = FlowRun.objects.filter(flow=flow)
    assert {r.profile_id for r in runs} == {p.pk for p in people}
    assert {(r.step.position, r.state, r.due_at) for r in runs.select_related("step")} == {
        (1, RunState.WAITING, T0)
    }
    assert flows.flow_enrol(flow=flow, now=T0) == 0  # once per person


def test_a_duration_wait_holds_until_its_time(account):
    ana = make_profile(account)
    tag = tag_services.tag_get_or_create(account=account, name="Waited")
    flow = flow_with(
        account,
        [ana],
        [
            (StepKind.WAIT, {"mode": "duration", "amount": 2, "unit": "days"}),
            (StepKind.ADD_TAG, {"tag": tag.pk}),
        ],
    )
    activate(flow)
    flows.flow_runs_due(now=T0)
    run = run_of(flow, ana)
    assert run.step.kind == StepKind.WAIT and run.due_at == T0 + dt.timedelta(days=2)
    flows.flow_runs_due(now=T0 + dt.timedelta(days=2) - dt.timedelta(seconds=1))
    assert not ProfileTag.objects.filter(tag=tag).exists()
    flows.flow_runs_due(now=T0 + dt.timedelta(days=2))
    assert ProfileTag.objects.filter(tag=tag, profile=ana).exists()
    assert run_of(flow, ana).state == RunState.DONE


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        # 12:00 UTC is 21:00 in Tokyo: 09:00 there is tomorrow, 00:00 UTC.
        ("Asia/Tokyo", dt.datetime(2026, 1, 31, 0, 0, tzinfo=dt.UTC)),
        # 12:00 UTC is 07:00 in New York (EST): 09:00 there is today, 14:00 UTC.
        ("America/New_York", dt.datetime(2026, 1, 30, 14, 0, tzinfo=dt.UTC)),
    ],
)
def test_a_time_of_day_wait_is_in_the_accounts_time_zone(account, zone, expected):
    account.time_zone = zone
    account.save(update_fields=["time_zone"])
    ana = make_profile(account)
    flow = flow_with(
        account, [ana], [(StepKind.WAIT, {"mode": "time_of_day", "time": "09:00"}), (StepKind.EXIT, {})]
    )
    activate(flow)
    flows.flow_runs_due(now=T0)
    assert run_of(flow, ana).due_at == expected


def test_a_date_attribute_wait_with_an_offset_crosses_month_ends(account):
    account.time_zone = "Europe/Berlin"
    account.save(update_fields=["time_zone"])
    soon = make_profile(account, "Soon", attributes={"contract_expiry": "2026-03-02"})
    past = make_profile(account, "Past", attributes={"contract_expiry": "2026-02-01"})
    none = make_profile(account, "None")
    flow = flow_with(
        account,
        [soon, past, none],
        [
            (StepKind.WAIT, {"mode": "date_attribute", "attribute": "contract_expiry", "offset_days": -3}),
            (StepKind.EXIT, {}),
        ],
    )
    activate(flow)
    flows.flow_runs_due(now=T0)
    # 2 March minus 3 days is 27 February (2026 is no leap year), 09:00 in Berlin = 08:00 UTC.
    assert run_of(flow, soon).due_at == dt.datetime(2026, 2, 27, 8, 0, tzinfo=dt.UTC)
    assert run_of(flow, soon).state == RunState.WAITING
    # 1 February minus 3 days is 29 January: already past, and nobody waits without a date.
    assert run_of(flow, past).state == RunState.EXITED
    assert run_of(flow, none).state == RunState.EXITED
    flows.flow_runs_due(now=dt.datetime(2026, 2, 27, 8, 0, tzinfo=dt.UTC))
    assert run_of(flow, soon).state == RunState.EXITED


@pytest.mark.parametrize(
    ("zone", "expiry", "offset", "expected"),
    [
        # 1 March minus a day is 28 February, 09:00 in Auckland (UTC+13): still 27 February in UTC.
        ("Pacific/Auckland", "2026-03-01", -1, dt.datetime(2026, 2, 27, 20, 0, tzinfo=dt.UTC)),
        # 28 February plus a day is 1 March, 09:00 in Los Angeles (UTC-8): 17:00 UTC.
        ("America/Los_Angeles", "2026-02-28", 1, dt.datetime(2026, 3, 1, 17, 0, tzinfo=dt.UTC)),
    ],
)
def test_a_date_attribute_wait_is_at_the_time_of_day_of_the_accounts_zone(
    account, zone, expiry, offset, expected
):
    account.time_zone = zone
    account.save(update_fields=["time_zone"])
    ana = make_profile(account, "Ana", attributes={"renewal": expiry})
    flow = flow_with(
        account,
        [ana],
        [
            (StepKind.WAIT, {"mode": "date_attribute", "attribute": "renewal", "offset_days": offset}),
            (StepKind.EXIT, {}),
        ],
    )
    activate(flow)
    flows.flow_runs_due(now=T0)
    assert (run_of(flow, ana).state, run_of(flow, ana).due_at) == (RunState.WAITING, expected)
    flows.flow_runs_due(now=expected - dt.timedelta(seconds=1))
    assert run_of(flow, ana).state == RunState.WAITING
    flows.flow_runs_due(now=expected)
    assert run_of(flow, ana).state == RunState.EXITED


def test_a_branch_on_a_rule_sends_each_person_to_its_target(account):
    berlin = make_profile(account, "B", city="Berlin")
    paris = make_profile(account, "P", city="Paris")
    local = tag_services.tag_get_or_create(account=account, name="Local")
    flow = flow_with(account, [berlin, paris], [])
    tagging = flows.flow_step_add(flow=flow, kind=StepKind.ADD_TAG, config={"tag": local.pk})
    leave = flows.flow_step_add(flow=flow, kind=StepKind.EXIT, config={})
    branch = flows.flow_step_add(
        flow=flow,
        kind=StepKind.BRANCH,
        config={
            "rule": {
                "attributes": {
                    "operator": "and",
                    "conditions": [{"attribute": "city", "operator": "is", "value": "Berlin"}],
                }
            },
            "then": tagging.pk,
            "else": leave.pk,
        },
    )
    flows.flow_step_move(step=branch, up=True)
    flows.flow_step_move(step=branch, up=True)
    activate(flow)
    flows.flow_runs_due(now=T0)
    assert list(ProfileTag.objects.filter(tag=local).values_list("profile_id", flat=True)) == [berlin.pk]
    assert run_of(flow, paris).state == RunState.EXITED


def test_tag_and_dnc_steps_are_set_based_and_safe_to_repeat(account):
    ana = make_profile(account, "Ana", phones=["+4915112345678"])
    ben = make_profile(account, "Ben", phones=["+4915187654321"])
    old = tag_services.tag_get_or_create(account=account, name="Lead")
    tag_services.tags_add(account=account, tags=[old], profile_ids=[ana.pk, ben.pk])
    block([account], "+4915187654321", channel="SMS")
    new = tag_services.tag_get_or_create(account=account, name="Customer")
    flow = flow_with(
        account,
        [ana, ben],
        [
            (StepKind.REMOVE_TAG, {"tag": old.pk}),
            (StepKind.ADD_TAG, {"tag": new.pk}),
            (StepKind.ADD_DNC, {"channel": "SMS"}),
        ],
        name="Stop list",
    )
    activate(flow)
    flows.flow_runs_due(now=T0)
    assert not ProfileTag.objects.filter(tag=old).exists()
    assert ProfileTag.objects.filter(tag=new).count() == 2
    entry = DncEntry.objects.get(value="+4915112345678", channel="SMS")
    membership = DncEntryAccount.objects.get(entry=entry, account=account)
    assert (membership.source, membership.campaign) == (Source.CAMPAIGN, "Stop list")
    # The same runs once more (a step redone after a crash): nothing changes.
    FlowRun.objects.filter(flow=flow).update(state=RunState.WAITING, step=flow.steps.first())
    flows.flow_runs_due(now=T0)
    assert ProfileTag.objects.filter(tag=new).count() == 2
    assert DncEntryAccount.objects.filter(account=account).count() == 2
    # Remove from Do Not Contact takes the account off both entries.
    removal = flow_with(account, [ana, ben], [(StepKind.REMOVE_DNC, {"channel": "SMS"})], name="Back")
    activate(removal)
    flows.flow_runs_due(now=T0)
    assert not DncEntryAccount.objects.filter(account=account).exists()


def test_a_send_step_redone_after_a_crash_delivers_once(account, settings):
    settings.COMMUNICATIONS_BACKEND = ""
    settings.INFOBIP_BASE_URL = settings.INFOBIP_API_KEY = settings.COMMUNICATIONS_WEBHOOK_URL = ""
    controller, smtp = smtp_server()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    try:
        sender_for(account, "EMAIL", "news@acme.example")
        ana = make_profile(account, "Ana", emails=["ana@example.com"])
        ben = make_profile(account, "Ben", emails=["ben@example.com"])
        block([account], "ben@example.com", channel="EMAIL")
        flow = flow_with(
            account,
            [ana, ben],
            [
                (
                    StepKind.SEND,
                    {
                        "channel": "EMAIL",
                        "sender": "news@acme.example",
                        "subject": "Hi",
                        "text": "Hello {{ first_name }}",
                    },
                ),
            ],
        )
        activate(flow)
        send_step = flow.steps.get()
        runs = list(FlowRun.objects.filter(flow=flow).select_related("flow__account", "step"))
        flows.flow_runs_execute(runs=runs, now=T0)
        # A worker that died before the runs moved on: the same chunk runs again.
        FlowRun.objects.filter(flow=flow).update(state=RunState.WAITING, step=send_step)
        FlowMessage.objects.filter(flow=flow, status=MessageStatus.SENT).update(status=MessageStatus.QUEUED)
        runs = list(FlowRun.objects.filter(flow=flow).select_related("flow__account", "step"))
        flows.flow_runs_execute(runs=runs, now=T0)
    finally:
        controller.stop()
    assert smtp.message_ids() == [f"<f{flow.pk}.{send_step.pk}.{ana.pk}.audience@acme.example>"]
    assert dict(FlowMessage.objects.filter(flow=flow).values_list("profile_id", "status")) == {
        ana.pk: MessageStatus.SENT,
        ben.pk: MessageStatus.BLOCKED_DNC,
    }
    assert run_of(flow, ana).state == RunState.DONE


def test_a_reply_moves_the_run_on_and_a_branch_reads_it(account, memory_backend):
    ana = make_profile(account, "Ana", phones=["+4915112345678"])
    ben = make_profile(account, "Ben", phones=["+4915187654321"])
    yes = tag_services.tag_get_or_create(account=account, name="Said yes")
    flow = flow_with(account, [ana, ben], [(StepKind.SEND, {"channel": "SMS", "text": "Join? Reply YES"})])
    reply = flows.flow_step_add(flow=flow, kind=StepKind.WAIT_REPLY, config={"amount": 1, "unit": "days"})
    leave = flows.flow_step_add(flow=flow, kind=StepKind.EXIT, config={})
    tagging = flows.flow_step_add(flow=flow, kind=StepKind.ADD_TAG, config={"tag": yes.pk})
    branch = flows.flow_step_add(
        flow=flow,
        kind=StepKind.BRANCH,
        config={"reply_contains": "yes", "then": tagging.pk, "else": leave.pk},
    )
    flows.flow_step_move(step=branch, up=True)
    flows.flow_step_move(step=branch, up=True)
    activate(flow)
    flows.flow_runs_due(now=T0)
    assert sorted(m.destination for m in memory_backend.outbox) == ["+4915112345678", "+4915187654321"]
    assert run_of(flow, ana).step_id == reply.pk
    later = T0 + dt.timedelta(hours=1)
    assert (
        flows.flow_reply_received(account=account, phone="+4915112345678", text="Yes please", now=later) == 1
    )
    flows.flow_runs_due(now=later)
    assert list(ProfileTag.objects.filter(tag=yes).values_list("profile_id", flat=True)) == [ana.pk]
    assert run_of(flow, ben).state == RunState.WAITING  # still waiting for a reply
    flows.flow_runs_due(now=T0 + dt.timedelta(days=1))
    assert run_of(flow, ben).state == RunState.EXITED
    assert not ProfileTag.objects.filter(tag=yes, profile=ben).exists()


def test_a_reply_through_the_inbound_webhook_lets_the_branch_tag_the_person(account, memory_backend):
    """Two-way: a send, a STOP-less reply "YES" posted by the provider, the branch tags the person."""
    from django.utils import timezone

    from communications import webhooks
    from tests.communications.webhook_helpers import inbound, inbound_body, inbound_url, post_json

    ana = make_profile(account, "Ana", phones=["+4915112345678"])
    yes = tag_services.tag_get_or_create(account=account, name="Said yes")
    flow = flow_with(account, [ana], [(StepKind.SEND, {"channel": "SMS", "text": "Join? Reply YES"})])
    flows.flow_step_add(flow=flow, kind=StepKind.WAIT_REPLY, config={"amount": 30, "unit": "days"})
    leave = flows.flow_step_add(flow=flow, kind=StepKind.EXIT, config={})
    tagging = flows.flow_step_add(flow=flow, kind=StepKind.ADD_TAG, config={"tag": yes.pk})
    branch = flows.flow_step_add(
        flow=flow,
        kind=StepKind.BRANCH,
        config={"reply_contains": "yes", "then": tagging.pk, "else": leave.pk},
    )
    flows.flow_step_move(step=branch, up=True)
    flows.flow_step_move(step=branch, up=True)
    start = timezone.now()
    activate(flow, now=start)
    flows.flow_runs_due(now=start)
    assert [m.destination for m in memory_backend.outbox] == ["+4915112345678"]
    token = webhooks.webhook_token_rotate(account=account, user=None)
    response = post_json(inbound_url(token), inbound_body([inbound("m1", "4915112345678", "YES")]))
    assert response.status_code == 200
    assert run_of(flow, ana).reply == "YES"
    flows.flow_runs_due(now=timezone.now() + dt.timedelta(seconds=1))
    assert list(ProfileTag.objects.filter(tag=yes).values_list("profile_id", flat=True)) == [ana.pk]
    assert not DncEntry.objects.exists()  # a reply is not an opt-out


def test_pause_stops_the_runs_resume_goes_on_finish_ends_them(account):
    people = [make_profile(account, f"P{i}") for i in range(2)]
    tag = tag_services.tag_get_or_create(account=account, name="Done")
    flow = flow_with(
        account,
        people,
        [(StepKind.WAIT, {"amount": 1, "unit": "hours"}), (StepKind.ADD_TAG, {"tag": tag.pk})],
    )
    activate(flow)
    flows.flow_runs_due(now=T0)
    services.flow_status_set(flow=flow, status=FlowStatus.PAUSED)
    assert flows.flow_runs_due(now=T0 + dt.timedelta(hours=2)) == 0
    assert not ProfileTag.objects.filter(tag=tag).exists()
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE)
    assert FlowRun.objects.filter(flow=flow).count() == 2  # resuming enrols nobody again
    flows.flow_runs_due(now=T0 + dt.timedelta(hours=2))
    assert ProfileTag.objects.filter(tag=tag).count() == 2
    other = flow_with(
        account, people, [(StepKind.WAIT, {"amount": 1, "unit": "hours"}), (StepKind.EXIT, {})], name="B"
    )
    activate(other)
    services.flow_status_set(flow=other, status=FlowStatus.FINISHED)
    assert set(FlowRun.objects.filter(flow=other).values_list("state", flat=True)) == {RunState.EXITED}


def test_the_claim_is_shared_and_a_dead_workers_claim_expires(account):
    people = [make_profile(account, f"P{i}") for i in range(5)]
    flow = flow_with(account, people, [(StepKind.EXIT, {})])
    activate(flow)
    first = flows._claim(T0, 3)
    second = flows._claim(T0, 3)
    assert len(first) == 3 and len(second) == 2
    assert not {r.pk for r in first} & {r.pk for r in second}
    assert flows._claim(T0, 10) == []  # all claimed
    # The workers died: their claims expire and the runs are taken again.
    later = T0 + dt.timedelta(seconds=flows.FLOW_CLAIM_SECONDS + 1)
    assert flows.flow_runs_due(now=later) == 5
    assert set(FlowRun.objects.filter(flow=flow).values_list("state", flat=True)) == {RunState.EXITED}


def test_an_active_flows_steps_are_locked_and_steps_are_checked(account):
    tag = tag_services.tag_get_or_create(account=account, name="T")
    flow = flow_with(account, [make_profile(account)], [(StepKind.ADD_TAG, {"tag": tag.pk})])
    with pytest.raises(ValidationError, match="not a time of day"):
        flows.flow_step_add(flow=flow, kind=StepKind.WAIT, config={"mode": "time_of_day", "time": "25:00"})
    with pytest.raises(ValidationError, match="whole number"):
        flows.flow_step_add(flow=flow, kind=StepKind.WAIT, config={"amount": "soon"})
    with pytest.raises(ValidationError, match="either a rule or a word"):
        flows.flow_step_add(flow=flow, kind=StepKind.BRANCH, config={})
    activate(flow)
    with pytest.raises(ValidationError, match="locked"):
        flows.flow_step_add(flow=flow, kind=StepKind.EXIT, config={})
    with pytest.raises(ValidationError, match="locked"):
        flows.flow_step_remove(step=flow.steps.get())


def test_people_who_get_an_entry_tag_enter_an_active_flow(account):
    vip = tag_services.tag_get_or_create(account=account, name="VIP")
    early, late, paused_late = (make_profile(account, name) for name in ("Early", "Late", "Paused"))
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[early.pk])
    flow = services.flow_create(
        account=account, user=None, name="VIP", audience=services.AudienceSpec(tag_ids=[vip.pk])
    )
    flows.flow_step_add(flow=flow, kind=StepKind.WAIT, config={"amount": 1, "unit": "days"})
    activate(flow)
    assert set(FlowRun.objects.filter(flow=flow).values_list("profile_id", flat=True)) == {early.pk}
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[late.pk])
    later = T0 + dt.timedelta(minutes=5)
    assert flows.flow_entries_refresh(now=later) == 1
    assert run_of(flow, late).due_at == later and run_of(flow, late).step.position == 1
    assert flows.flow_entries_refresh(now=later) == 0  # once per person
    services.flow_status_set(flow=flow, status=FlowStatus.PAUSED)
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[paused_late.pk])
    assert flows.flow_entries_refresh(now=later) == 0  # a paused flow takes nobody in


def test_a_run_whose_claim_expired_and_was_retaken_is_not_moved_by_the_first_worker(account):
    ana = make_profile(account)
    flow = flow_with(account, [ana], [(StepKind.EXIT, {})])
    activate(flow)
    (slow,) = flows._claim(T0, 10)
    later = T0 + dt.timedelta(seconds=flows.FLOW_CLAIM_SECONDS + 1)
    (fast,) = flows._claim(later, 10)
    flows.flow_runs_execute(runs=[slow], now=T0)  # the first worker wakes up late
    assert run_of(flow, ana).state == RunState.WAITING
    flows.flow_runs_execute(runs=[fast], now=later)
    assert run_of(flow, ana).state == RunState.EXITED


def test_a_worker_killed_between_the_hand_off_and_its_commit_delivers_once(account, settings, monkeypatch):
    """The worker died after the SMTP server took the messages, before anything after the hand-off
    committed: the runs stay claimed at the send step, their messages `queued`. Once the claim
    expires another pass redoes the step with the same keys: the server has each message once."""
    settings.COMMUNICATIONS_BACKEND = ""
    settings.INFOBIP_BASE_URL = settings.INFOBIP_API_KEY = settings.COMMUNICATIONS_WEBHOOK_URL = ""
    controller, smtp = smtp_server()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    people = [make_profile(account, f"P{i}", emails=[f"p{i}@example.com"]) for i in range(3)]
    flow = flow_with(
        account, people, [(StepKind.SEND, {"channel": "EMAIL", "subject": "Hi", "text": "Hello"})]
    )
    activate(flow)
    original = flows._hand_over

    def dying(*args):
        original(*args)
        raise SystemExit("worker killed")

    try:
        monkeypatch.setattr(flows, "_hand_over", dying)
        with pytest.raises(SystemExit):
            flows.flow_runs_due(now=T0)
        assert len(smtp.messages) == 3
        assert set(FlowMessage.objects.filter(flow=flow).values_list("status", flat=True)) == {
            MessageStatus.QUEUED
        }
        monkeypatch.setattr(flows, "_hand_over", original)
        assert flows.flow_runs_due(now=T0 + dt.timedelta(minutes=1)) == 0  # still claimed
        flows.flow_runs_due(now=T0 + dt.timedelta(seconds=flows.FLOW_CLAIM_SECONDS + 1))
    finally:
        controller.stop()
    assert sorted(smtp.message_ids()) == sorted(
        f"<f{flow.pk}.{flow.steps.get().pk}.{p.pk}.audience@{settings.DEFAULT_FROM_EMAIL.rpartition('@')[2]}>"
        for p in people
    )
    assert set(FlowMessage.objects.filter(flow=flow).values_list("status", flat=True)) == {MessageStatus.SENT}
    assert set(FlowRun.objects.filter(flow=flow).values_list("state", flat=True)) == {RunState.DONE}


def test_a_send_steps_queries_do_not_grow_with_its_messages(account, memory_backend):
    """A chunk at a send step is read, written, handed over and answered set-based: as many
    queries for 8 people as for 2, whether their messages are sent or refused."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(size: int, refused: bool) -> int:
        people = [
            make_profile(account, f"P{size}{i}", phones=[f"+49151{size:02d}{int(refused)}{i:05d}"])
            for i in range(size)
        ]
        if refused:
            memory_backend.failing = {f"+49151{size:02d}1{i:05d}" for i in range(size)}
        flow = flow_with(
            account, people, [(StepKind.SEND, {"channel": "SMS", "text": "Hi"})], name=f"Q{size}{refused}"
        )
        activate(flow)
        with CaptureQueriesContext(connection) as captured:
            assert flows.flow_runs_due(now=T0) == size
        services.flow_status_set(flow=flow, status=FlowStatus.FINISHED)
        return len(captured.captured_queries)

    assert queries(2, refused=False) == queries(8, refused=False)
    assert queries(2, refused=True) == queries(8, refused=True)
