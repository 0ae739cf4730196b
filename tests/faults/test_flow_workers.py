"""A flow's send step shared by the processes of a real Celery worker (SEND_PROCESSES=2): the beat
task queues a helper and both claim due runs, chunk by chunk; each message is handed over once,
the step's counts are exact, and both processes took part."""

from __future__ import annotations

from collections import Counter

from django.utils import timezone

from audience.selection import Selection
from communications import flows, tasks
from communications import services as sending
from communications.models import FlowMessage, FlowStatus, FlowStep, MessageStatus, StepKind
from dnc import services as dnc_services
from dnc.models import Source
from tests.faults.conftest import wait_for
from tests.faults.test_worker_killed import ROWS, crowd


def test_two_worker_processes_share_a_send_step_and_hand_each_message_over_once(start_worker, account, owner):
    ids = crowd(account)
    blocked = [f"+3859177{i:05d}" for i in range(30)]  # the first 30 are on Do Not Contact
    dnc_services.dnc_entries_add(
        accounts=[account],
        entries=[{"contact": value, "channel": "", "sender": ""} for value in blocked],
        source=Source.CUSTOM,
    )
    flow = sending.flow_create(
        account=account,
        user=owner,
        name="Welcome",
        audience=sending.AudienceSpec(selections=[Selection(ids=ids)]),
    )
    step = flows.flow_step_add(flow=flow, kind=StepKind.SEND, config={"channel": "SMS", "text": "Hi"})
    sending.flow_status_set(flow=flow, status=FlowStatus.ACTIVE, now=timezone.now())
    # Chunks of 20 runs (FAULTS_CHUNK), each hand-off 50 ms: fifteen chunks for two processes.
    worker = start_worker(concurrency=2, env={"SEND_PROCESSES": "2", "FAULTS_SEND_DELAY": "0.05"})
    tasks.flow_runs_task.delay()  # as beat queues it
    wait_for(lambda: not FlowStep.objects.filter(pk=step.pk, waiting__gt=0).exists(), 60, worker.tail)

    step.refresh_from_db()
    assert (step.passed, step.failed, step.waiting) == (ROWS, 0, 0)
    statuses = Counter(FlowMessage.objects.filter(flow=flow).values_list("status", flat=True))
    assert statuses == {MessageStatus.SENT: ROWS - 30, MessageStatus.BLOCKED_DNC: 30}
    lines = [line.split() for line in start_worker.deliveries.read_text().splitlines()]
    delivered = Counter(fields[1] for fields in lines if fields[0] == "delivered")
    assert set(delivered.values()) == {1}  # nobody got the message twice
    assert set(delivered) == {flows.flow_message_key(flow.pk, step.pk, pk) for pk in ids[30:]}
    assert not [fields for fields in lines if fields[0] == "dedup"]
    assert len({fields[-1] for fields in lines}) == 2, "one process did all the chunks"
