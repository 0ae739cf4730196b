"""A flow's enrolment on a real hot standby (tests/replicas/conftest.py): activation reads the
entry audience's profile ids on the standby when it has replayed the account's last write (the
rule of counts), before its transaction, and inserts the runs on the primary under the flow's
lock; with replay paused after a person started to match, it reads the primary. The entries task
reads the entry audience on the standby in keyset chunks and inserts the runs on the primary,
enrolling the people the primary's audience holds; with replay paused after a person started to
match, it reads the primary and enrols them too."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.conf import settings
from django.db import connections
from django.test.utils import CaptureQueriesContext

from audience import replicas
from audience.models import Company
from communications import flows, selectors, services
from communications.models import Flow, FlowRun, FlowStatus, StepKind
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


def _draft(account, vip) -> Flow:
    flow = services.flow_create(
        account=account, user=None, name="VIP care", audience=services.AudienceSpec(tag_ids=[vip.pk])
    )
    flows.flow_step_add(flow=flow, kind=StepKind.WAIT, config={"amount": 2, "unit": "days"})
    return flow


def _activate(flow: Flow, standby: str) -> tuple[CaptureQueriesContext, CaptureQueriesContext]:
    """Activate `flow` at T0; the statements it ran on the standby and on the primary."""
    with (
        CaptureQueriesContext(connections[standby]) as on_standby,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE, now=T0)
    return on_standby, on_primary


@pytest.fixture
def flow(account, vip, standby, observe, monkeypatch):
    """An active flow entered by the VIP tag (activated: its audience read on the standby, its
    runs written on the primary), the enrolment chunks two people at a time."""
    monkeypatch.setattr(flows, "ENROL_CHUNK", 2)
    flow = _draft(account, vip)
    replayed(observe)
    on_standby, on_primary = _activate(flow, standby)
    assert len(_profile_reads(on_standby)) == 1 and not _profile_reads(on_primary)
    assert FlowRun.objects.filter(flow=flow).count() == 3
    return flow


def test_activation_reads_the_audience_on_the_standby_and_writes_the_runs_in_chunks(
    account, vip, standby, observe, monkeypatch
):
    monkeypatch.setattr(flows, "ENROL_INSERT_CHUNK", 2)
    flow = _draft(account, vip)
    replayed(observe)
    on_standby, on_primary = _activate(flow, standby)
    assert not [q for q in on_standby.captured_queries if q["sql"].split()[0] in WRITES]
    assert not _profile_reads(on_primary)
    inserts = [q["sql"] for q in on_primary.captured_queries if "INSERT INTO" in q["sql"]]
    assert len(inserts) == 2 and all("unnest" in sql for sql in inserts)  # 3 people, 2 a chunk
    # The lock, the status and the runs in one transaction on the primary.
    primary = [q["sql"] for q in on_primary.captured_queries]
    lock = next(i for i, sql in enumerate(primary) if "FOR UPDATE" in sql)
    assert lock < primary.index(inserts[0])
    assert _enrolled(flow) == _audience(flow) and len(_enrolled(flow)) == 3
    assert set(FlowRun.objects.filter(flow=flow).values_list("due_at", flat=True)) == {T0}


def test_activation_reads_the_primary_when_the_standby_has_not_replayed_the_accounts_last_write(
    account, vip, standby, observe
):
    flow = _draft(account, vip)
    replayed(observe)
    observe["standby"].execute("SELECT pg_wal_replay_pause()")
    fresh = make_profile(account, "Freshly")
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[fresh.pk])  # moves the generation
    on_standby, on_primary = _activate(flow, standby)
    assert not _profile_reads(on_standby)
    inserts = [q["sql"] for q in on_primary.captured_queries if q["sql"].startswith("INSERT INTO")]
    assert len(inserts) == 1 and "unnest" not in inserts[0]  # one INSERT … SELECT on the primary
    assert fresh.pk in _enrolled(flow) and _enrolled(flow) == _audience(flow)


def test_activation_rereads_on_the_primary_when_the_audience_changed_after_its_read(
    account, vip, standby, observe, monkeypatch
):
    flow = _draft(account, vip)
    company = Company.objects.create(account=account, name="Acme")
    zora = make_profile(account, "Zora", company=company)
    replayed(observe)
    read = flows.flow_audience_ids

    def read_then_someone_adds(*, flow):
        ids = read(flow=flow)
        assert ids is not None and zora.pk not in ids  # read on the standby
        # Another request adds a company to the draft's entry point meanwhile.
        services.flow_audience_add(
            flow=Flow.objects.get(pk=flow.pk), audience=services.AudienceSpec(company_ids=[company.pk])
        )
        return ids

    monkeypatch.setattr(flows, "flow_audience_ids", read_then_someone_adds)
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE, now=T0)
    assert zora.pk in _enrolled(flow) and _enrolled(flow) == _audience(flow)


def test_activating_twice_at_once_enrols_once(account, vip, standby, observe, monkeypatch):
    flow = _draft(account, vip)
    replayed(observe)
    read = flows.flow_audience_ids

    def read_then_another_request_activates(*, flow):
        ids = read(flow=flow)
        monkeypatch.setattr(flows, "flow_audience_ids", read)  # (the other request reads as usual)
        services.flow_status_set(flow=Flow.objects.get(pk=flow.pk), status=FlowStatus.ACTIVE, now=T0)
        return ids

    monkeypatch.setattr(flows, "flow_audience_ids", read_then_another_request_activates)
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE, now=LATER)  # no error
    assert flow.status == FlowStatus.ACTIVE
    runs = FlowRun.objects.filter(flow=flow)
    assert runs.count() == 3 and set(runs.values_list("due_at", flat=True)) == {T0}


def test_a_pause_waits_for_the_activation_that_holds_the_flow(account, vip, standby, observe, monkeypatch):
    flow = _draft(account, vip)
    replayed(observe)
    insert = flows._runs_insert
    paused = threading.Event()
    outcome: dict = {}
    # Another request, which saw the flow active (it has to, to pause it), pauses it while the
    # activation writes the runs.
    seen = Flow.objects.get(pk=flow.pk)
    seen.status = FlowStatus.ACTIVE

    def pause():
        try:
            services.flow_status_set(flow=seen, status=FlowStatus.PAUSED)
            outcome["status"] = Flow.objects.get(pk=flow.pk).status
        except Exception as error:  # reported to the test's thread
            outcome["error"] = error
        finally:
            connections.close_all()
            paused.set()

    def insert_while_another_request_pauses(**kwargs):
        other = threading.Thread(target=pause)
        other.start()
        time.sleep(0.5)
        assert not paused.is_set()  # waiting for the flow's lock, held by the activation
        return insert(**kwargs)

    monkeypatch.setattr(flows, "_runs_insert", insert_while_another_request_pauses)
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE, now=T0)
    assert paused.wait(30)
    assert outcome == {"status": FlowStatus.PAUSED}
    assert len(_enrolled(flow)) == 3


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
