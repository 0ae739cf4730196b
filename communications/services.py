"""Writes of communications: broadcasts (create, send, the send itself) and flows (create, add an
audience, change status). Views, tasks and other apps call these."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Model
from django.template.defaultfilters import pluralize
from django.utils import timezone

from audience import counting, replicas
from audience.jobs import JobDone, JobRun, JobStatus, chunk_commit_unflushed, job_enqueue, job_run
from audience.models import Account, Company
from audience.selection import Selection
from communications import backends, content, delivery, selectors, senders, whatsapp
from communications.models import (
    AudienceItem,
    Broadcast,
    Flow,
    FlowStatus,
    HandOff,
    ItemKind,
    Message,
    MessageStatus,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

SEND_CHUNK = 1000


@dataclass
class AudienceSpec:
    """What an audience is made of, before it is saved as AudienceItems."""

    tag_ids: list[int] = field(default_factory=list)
    segment_ids: list[int] = field(default_factory=list)
    company_ids: list[int] = field(default_factory=list)
    selections: list[Selection] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.tag_ids or self.segment_ids or self.company_ids or self.selections)


def _audience_check(account: Account, spec: AudienceSpec) -> None:
    """Refuse ids of another account (they answer as if they did not exist)."""
    from django.apps import apps

    checks: list[tuple[list[int], type[Model], str]] = [
        (spec.tag_ids, apps.get_model("tags", "Tag"), "tag"),
        (spec.company_ids, Company, "company"),
    ]
    if spec.segment_ids:
        checks.append((spec.segment_ids, apps.get_model("segments", "Segment"), "segment"))
    for ids, model, label in checks:
        if ids and model._default_manager.filter(account=account, pk__in=ids).count() != len(set(ids)):
            raise ValidationError(f"There is no such {label}.")


def audience_items(account: Account, spec: AudienceSpec, **owner) -> list[AudienceItem]:
    items = [AudienceItem(account=account, kind=ItemKind.TAG, object_id=pk, **owner) for pk in spec.tag_ids]
    items += [
        AudienceItem(account=account, kind=ItemKind.SEGMENT, object_id=pk, **owner) for pk in spec.segment_ids
    ]
    items += [
        AudienceItem(account=account, kind=ItemKind.COMPANY, object_id=pk, **owner) for pk in spec.company_ids
    ]
    items += [
        AudienceItem(account=account, kind=ItemKind.SELECTION, selection=s.to_json(), **owner)
        for s in spec.selections
    ]
    return items


# --- Broadcasts ----------------------------------------------------------------------------------


@transaction.atomic
def broadcast_create(
    *,
    account: Account,
    user: User | None,
    name: str,
    channel: str,
    sender: str,
    text: str,
    audience: AudienceSpec,
    subject: str = "",
    html: str = "",
    wa_template: str = "",
    wa_language: str = "",
    wa_placeholders: str = "",
) -> Broadcast:
    """A draft broadcast with its recipients; nothing is sent until `broadcast_send`. `sender` is
    the address of one of the account's senders of `channel` (or "" for the provider's default);
    the content must parse (communications.content)."""
    if not audience:
        raise ValidationError("Choose the recipients: profiles from People, a segment or tags.")
    _audience_check(account, audience)
    chosen = senders.sender_for_broadcast(account=account, channel=channel, address=sender)
    broadcast = Broadcast(
        account=account,
        created_by=user,
        name=name.strip(),
        channel=channel,
        sender=chosen.address if chosen else "",
        sender_label=chosen.label if chosen else "",
        subject=subject.strip() if channel == "EMAIL" else "",
        text=text,
        html=html if channel == "EMAIL" else "",
    )
    if channel == "WHATSAPP":
        broadcast.wa_template = wa_template.strip()
        broadcast.wa_language = wa_language.strip()
        broadcast.wa_placeholders = "\n".join(whatsapp.placeholder_lines(wa_placeholders))
        whatsapp.template_check(
            name=broadcast.wa_template, language=broadcast.wa_language, placeholders=wa_placeholders
        )
    broadcast.full_clean(exclude=["account", "created_by", "queued_by"])
    content.broadcast_content_check(broadcast)
    broadcast.save()
    AudienceItem.objects.bulk_create(audience_items(account, audience, broadcast=broadcast))
    return broadcast


def broadcast_send(*, broadcast: Broadcast, user: User | None) -> Broadcast:
    """Queue a draft for sending (once: a second call changes nothing)."""
    from communications import tasks

    queued = Broadcast.objects.filter(pk=broadcast.pk, queued_at__isnull=True).update(
        queued_at=timezone.now(), queued_by=user, status=JobStatus.PENDING
    )
    if not queued:
        raise ValidationError("This broadcast has already been sent.")
    job_enqueue(tasks.broadcast_send_task, broadcast)
    broadcast.refresh_from_db()
    return broadcast


def broadcast_delete(*, broadcast: Broadcast) -> None:
    if not broadcast.is_draft:
        raise ValidationError("A broadcast that has been sent can't be deleted.")
    broadcast.delete()


def broadcast_run(*, broadcast_id: int) -> None:
    """Send a queued broadcast in chunks of recipients (by profile id), each in two commits:
    `_broadcast_chunk` writes the chunk's message rows (final outcomes, and `queued` for those to
    hand over) with the cursor; `_broadcast_hand_over` then gives the queued ones to the backend
    and commits what it answered. A resumed run first hands over what a dead worker left queued,
    with the same idempotency keys, so the backend sees each recipient at most once per key and
    every recipient has exactly one message row. The job runner (`audience.jobs.job_run`) owns
    the lifecycle: claim, cancel between chunks, and failure."""
    if not Broadcast.objects.filter(pk=broadcast_id, queued_at__isnull=False).exists():
        return
    job_run(Broadcast, broadcast_id, work=_broadcast_work)


def _broadcast_work(run: JobRun) -> JobDone | None:
    broadcast = run.job
    backend = backends.backend_get(broadcast.channel)
    recipients = selectors.broadcast_recipients(broadcast=broadcast)
    # Who the recipients are is read on a replica when one holds everything committed before the
    # send began (audience.replicas); each chunk's messages, destinations and Do Not Contact are
    # read and written on the primary, in `_broadcast_chunk`'s transaction.
    if not broadcast.total:
        Broadcast.objects.filter(pk=broadcast.pk).update(total=replicas.job_read(recipients.count))
    _broadcast_hand_over(broadcast, backend)  # what a dead worker left in flight
    processes = settings.SEND_PROCESSES
    after = broadcast.cursor
    chunks = replicas.job_id_chunks(run, recipients, after=after, size=SEND_CHUNK)
    for number, ids in enumerate(chunks):
        _broadcast_chunk(broadcast, ids)
        if processes > 1 and number % processes:
            # Another worker process hands this chunk's range over, in parallel with this one.
            _hand_over_elsewhere(broadcast.pk, after, ids[-1])
        else:
            _broadcast_hand_over(broadcast, backend, after=after, upto=ids[-1])
        after = ids[-1]
    if run.stopped:  # cancelled meanwhile
        return None
    if processes > 1:
        _hand_over_rest(broadcast, backend)
    broadcast.refresh_from_db()
    broadcast.total = broadcast.handled
    summary = _summary(broadcast)
    return JobDone(message=summary, notice=f"Broadcast “{broadcast.name}” is done: {summary}")


def _summary(b: Broadcast) -> str:
    return (
        f"{b.handled:,} recipient{pluralize(b.handled)}: {b.sent:,} sent, {b.blocked_dnc:,} blocked by Do Not Contact, "
        f"{b.no_destination:,} without a destination, {b.failed:,} failed"
        + (
            f", {b.outside_window:,} outside WhatsApp's 24-hour window (no template)."
            if b.outside_window
            else "."
        )
    )


@transaction.atomic
def _broadcast_chunk(broadcast: Broadcast, ids: list[int]) -> None:
    """Phase one: one message row per new recipient of the chunk — `blocked_dnc` and
    `no_destination` final, the others `queued` with their destination — committed with the
    counters of the final ones and the cursor. Nothing leaves Audience here."""
    locked = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
    if locked.cursor >= ids[-1]:  # another worker did this chunk
        return
    # Lost in a crash of the database server, these rows stay `queued` and are handed over again
    # with the same keys (SMTP's hand-off keys are committed durably, before the hand-off).
    chunk_commit_unflushed()
    # The chunk's range, not its 1,000 ids: one index range scan and two parameters.
    done = set(
        Message.objects.filter(
            broadcast=broadcast, profile_id__gte=min(ids), profile_id__lte=max(ids)
        ).values_list("profile_id", flat=True)
    )
    todo = [pk for pk in ids if pk not in done]
    resolved = delivery.recipients_resolve(
        account=broadcast.account, channel=broadcast.channel, sender=broadcast.sender, profile_ids=todo
    )
    # Free-form WhatsApp text reaches only people inside the 24-hour window.
    resolved = delivery.window_skip(
        account_id=broadcast.account_id,
        channel=broadcast.channel,
        template=broadcast.wa_template,
        resolved=resolved,
    )
    rows = [(pk, *resolved[pk]) for pk in todo]  # (profile id, status, destination)
    _messages_insert(broadcast=broadcast, rows=rows, now=timezone.now())
    blocked_dnc = sum(status == MessageStatus.BLOCKED_DNC for _, status, _ in rows)
    no_destination = sum(status == MessageStatus.NO_DESTINATION for _, status, _ in rows)
    outside = sum(status == MessageStatus.OUTSIDE_WINDOW for _, status, _ in rows)
    Broadcast.objects.filter(pk=broadcast.pk).update(
        cursor=ids[-1],
        processed=F("processed") + blocked_dnc + no_destination + outside,
        blocked_dnc=F("blocked_dnc") + blocked_dnc,
        no_destination=F("no_destination") + no_destination,
        outside_window=F("outside_window") + outside,
    )


def _messages_insert(*, broadcast: Broadcast, rows: list[tuple[int, str, str]], now) -> None:
    """The message rows of (profile id, status, destination) for `broadcast`. On PostgreSQL one
    INSERT … SELECT FROM unnest() of three arrays (no model instance a row, five parameters in
    all); elsewhere `bulk_create`."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        Message.objects.bulk_create(
            [
                Message(
                    account_id=broadcast.account_id,
                    broadcast=broadcast,
                    profile_id=pk,
                    channel=broadcast.channel,
                    sender=broadcast.sender,
                    destination=destination,
                    status=status,
                    created_at=now,
                )
                for pk, status, destination in rows
            ],
            batch_size=500,
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Message._meta.db_table} (account_id, broadcast_id, profile_id, channel, sender,"
            " destination, status, error, created_at) SELECT %s, %s, r.profile_id, %s, %s, r.destination,"
            " r.status, '', %s FROM unnest(%s::bigint[], %s::text[], %s::text[])"
            " AS r(profile_id, status, destination)",
            [
                broadcast.account_id,
                broadcast.pk,
                broadcast.channel,
                broadcast.sender,
                now,
                [pk for pk, _, _ in rows],
                [status for _, status, _ in rows],
                [destination for _, _, destination in rows],
            ],
        )


def _broadcast_hand_over(
    broadcast: Broadcast, backend: backends.BaseBackend, *, after: int = 0, upto: int | None = None
) -> None:
    """Phase two: hand the broadcast's `queued` messages (of profiles after `after`, up to `upto`)
    to the backend (outside any transaction: no lock is held while the provider answers), then
    commit each one as sent or failed. A worker killed between the two leaves them `queued`; the
    next run hands them over again with the same keys (`Outgoing.key`), which the backend
    de-duplicates."""
    while True:
        pending = Message.objects.filter(
            broadcast=broadcast, status=MessageStatus.QUEUED, profile_id__gt=after
        )
        if upto is not None:
            pending = pending.filter(profile_id__lte=upto)
        queued = list(pending.order_by("profile_id").values_list("profile_id", "destination")[:SEND_CHUNK])
        if not queued:
            return
        after = queued[-1][0]
        outgoing = delivery.outgoing_build(broadcast=broadcast, queued=queued)
        _handed_over_commit(broadcast, [pk for pk, _ in queued], _backend_send(backend, outgoing))


def _hand_over_elsewhere(broadcast_id: int, after: int, upto: int) -> None:
    """Queue the hand-over of one chunk's range for any free worker process. A task that is lost
    (the broker down, a worker killed) leaves its messages `queued`: `_hand_over_rest` sends them."""
    from communications import tasks

    try:
        tasks.broadcast_hand_over_task.delay(broadcast_id, after, upto)
    except Exception:  # the broker is down: the range is handed over at the end, here
        logger.warning("queueing the hand-over of broadcast %s (%s, %s] failed", broadcast_id, after, upto)


def broadcast_hand_over_range(*, broadcast_id: int, after: int, upto: int) -> None:
    """A helper's share of a send (SEND_PROCESSES > 1): hand over the queued messages of the
    profiles in (after, upto], while the broadcast runs. Handing a message over twice (a helper and
    the run's own sweep at the end) is safe: the keys are the same, the backend de-duplicates them
    and only a message still `queued` is counted."""
    broadcast = (
        Broadcast.objects.filter(pk=broadcast_id, status=JobStatus.RUNNING).select_related("account").first()
    )
    if broadcast is None:  # cancelled, failed or finished meanwhile
        return
    _broadcast_hand_over(broadcast, backends.backend_get(broadcast.channel), after=after, upto=upto)


def _hand_over_rest(broadcast: Broadcast, backend: backends.BaseBackend) -> None:
    """Wait for the helpers' ranges while they move; what is still `queued` once nothing moved for
    JOB_STALE_SECONDS (a lost task, a dead helper) is handed over here."""
    last, since = -1, time.monotonic()
    while True:
        left = Message.objects.filter(broadcast=broadcast, status=MessageStatus.QUEUED).count()
        if not left:
            return
        if left != last:
            last, since = left, time.monotonic()
        elif time.monotonic() - since > settings.JOB_STALE_SECONDS:
            break
        time.sleep(0.2)
    _broadcast_hand_over(broadcast, backend)


@transaction.atomic
def _handed_over_commit(broadcast: Broadcast, profile_ids: list[int], failures: dict[int, str]) -> None:
    """Record the backend's answer for messages it was handed. Only rows still `queued` change
    and only they are counted, so a hand-off two workers both made is counted once: the second
    UPDATE waits for the first's row locks and then finds those rows `sent`. The broadcast row is
    locked only by the counters' UPDATE at the end, not while the messages are written: a worker
    process writing one chunk's outcome does not hold up another writing the next chunk."""
    # Lost in a crash of the database server, these rows stay `queued` and are handed over again
    # with the same keys (SMTP's hand-off keys are committed durably, before the hand-off).
    chunk_commit_unflushed()
    # The chunk's range as well as its ids: an index range scan of (broadcast, profile) whatever
    # the planner's statistics say (with the ids alone, stale ones made it read the whole send's
    # rows for each chunk).
    pending = Message.objects.filter(
        broadcast=broadcast,
        status=MessageStatus.QUEUED,
        profile_id__gte=min(profile_ids, default=0),
        profile_id__lte=max(profile_ids, default=0),
    )
    by_error: dict[str, list[int]] = {}
    for pk, error in failures.items():
        by_error.setdefault(error[:500], []).append(pk)
    # Each UPDATE counts the rows it changed: only those still `queued`.
    failed = sum(
        pending.filter(profile_id__any=pks).update(status=MessageStatus.FAILED, error=error)
        for error, pks in by_error.items()
    )
    sent = pending.filter(profile_id__any=[pk for pk in profile_ids if pk not in failures]).update(
        status=MessageStatus.SENT
    )
    if sent:  # People's "contacted within" and "reached over" filters read the sent messages
        counting.data_changed(account_ids=[broadcast.account_id])
    Broadcast.objects.filter(pk=broadcast.pk).update(
        processed=F("processed") + sent + failed, sent=F("sent") + sent, failed=F("failed") + failed
    )


def _backend_send(backend: backends.BaseBackend, outgoing: list[backends.Outgoing]) -> dict[int, str]:
    if not outgoing:
        return {}
    try:
        return backend.send(outgoing)
    except Exception as error:  # the provider is down: these recipients failed, the send goes on
        logger.exception("channel backend failed")
        return {message.profile_id: f"The channel backend failed: {error}" for message in outgoing}


# --- Hand-off keys ------------------------------------------------------------------------------

HANDOFF_PURGE_BATCH = 10_000


def handoff_purge(*, now=None, batch: int = HANDOFF_PURGE_BATCH) -> int:
    """Delete the hand-off keys (`HandOff`) older than HANDOFF_RETENTION_DAYS, `batch` rows a
    statement (each its own short transaction, so no long lock and no huge WAL burst); returns
    how many went. A key is needed only while its send can still be resumed (hours at most)."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.HANDOFF_RETENTION_DAYS)
    deleted = 0
    while True:
        # Oldest first on the created_at index (handoff_created): the scan reads only old keys.
        ids = list(
            HandOff.objects.filter(created_at__lt=cutoff)
            .order_by("created_at")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        deleted += HandOff.objects.filter(pk__in=ids).delete()[0]


# --- Flows ---------------------------------------------------------------------------------------


@transaction.atomic
def flow_create(
    *, account: Account, user: User | None, name: str, audience: AudienceSpec | None = None
) -> Flow:
    """A draft flow whose Predefined Audience entry point holds `audience`."""
    flow = Flow(account=account, created_by=user, name=name.strip())
    flow.full_clean(exclude=["account", "created_by"])
    flow.save()
    if audience:
        _audience_check(account, audience)
        AudienceItem.objects.bulk_create(audience_items(account, audience, flow=flow))
    return flow


@transaction.atomic
def flow_audience_add(*, flow: Flow, audience: AudienceSpec) -> int:
    """Add to the flow's entry point what it does not hold yet; returns how many items were new."""
    if flow.status == FlowStatus.FINISHED:
        raise ValidationError("A finished flow takes no more audience.")
    _audience_check(flow.account, audience)
    present = {(item.kind, item.object_id) for item in flow.items.exclude(kind=ItemKind.SELECTION)}
    selections = [item.selection for item in flow.items.filter(kind=ItemKind.SELECTION)]
    new = [
        item
        for item in audience_items(flow.account, audience, flow=flow)
        if (item.kind, item.object_id) not in present
        and not (item.kind == ItemKind.SELECTION and item.selection in selections)
    ]
    AudienceItem.objects.bulk_create(new)
    Flow.objects.filter(pk=flow.pk).update(modified_at=timezone.now())
    return len(new)


def flow_item_remove(*, flow: Flow, item_id: int) -> bool:
    if flow.status == FlowStatus.ACTIVE:
        raise ValidationError("Pause the flow before you change its audience.")
    deleted, _ = flow.items.filter(pk=item_id).delete()
    Flow.objects.filter(pk=flow.pk).update(modified_at=timezone.now())
    return bool(deleted)


FLOW_TRANSITIONS: dict[str, set[FlowStatus]] = {
    FlowStatus.DRAFT: {FlowStatus.ACTIVE},
    FlowStatus.ACTIVE: {FlowStatus.PAUSED, FlowStatus.FINISHED},
    FlowStatus.PAUSED: {FlowStatus.ACTIVE, FlowStatus.FINISHED},
    FlowStatus.FINISHED: set(),
}


def flow_status_set(*, flow: Flow, status: str, now=None) -> Flow:
    if status not in FLOW_TRANSITIONS.get(flow.status, set()):
        raise ValidationError(
            f"A {flow.get_status_display().lower()} flow can't become {FlowStatus(status).label.lower()}."
            if status in FlowStatus.values
            else f"{status!r} is not a flow status."
        )
    if status == FlowStatus.ACTIVE and not flow.items.exists():
        raise ValidationError("Add an audience to the flow's entry point before you activate it.")
    from communications import flows

    # Activating a draft enrols its entry audience at the first step (a flow without steps has
    # nothing to run: nobody is enrolled). Its people are read first, outside the transaction,
    # on a replica caught up with the account's data when there is one (else None: the
    # enrolment reads the primary in the transaction), then written on the primary under the
    # flow's lock, unless the flow changed since (its audience may have: read it there again).
    enrols = status == FlowStatus.ACTIVE and flow.status == FlowStatus.DRAFT and flow.steps.exists()
    profile_ids = flows.flow_audience_ids(flow=flow) if enrols else None
    with transaction.atomic():
        locked = Flow.objects.select_for_update().values_list("status", "modified_at").get(pk=flow.pk)
        was, modified_at = locked
        if was != flow.status:  # another request changed it since the caller read it
            if was == status:
                flow.status = status  # activating (or pausing) twice is doing it once
                return flow
            if status not in FLOW_TRANSITIONS.get(was, set()):
                raise ValidationError(
                    f"The flow is {FlowStatus(was).label.lower()} now: it can't become "
                    f"{FlowStatus(status).label.lower()}."
                )
        if modified_at != flow.modified_at:
            profile_ids = None
        flow.status = status
        flow.modified_at = timezone.now()
        flow.save(update_fields=["status", "modified_at"])
        # Resuming a paused flow goes on where the runs are; the scheduler ignores the runs of a
        # paused flow. Finishing ends the runs.
        if status == FlowStatus.ACTIVE and was == FlowStatus.DRAFT and flow.steps.exists():
            flows.flow_enrol(flow=flow, now=now, profile_ids=profile_ids)
        elif status == FlowStatus.FINISHED:
            flows.flow_runs_exit(flow=flow)
    return flow
