"""Writes of communications: broadcasts (create, send, the send itself) and flows (create, add an
audience, change status). Views, tasks and other apps call these."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audience.jobs import JobStatus, job_claim, job_enqueue, job_finish
from audience.models import Account, Company, Contact
from audience.selection import Selection
from audience.services import notification_create
from communications import backends, selectors
from communications.models import (
    CHANNEL_CONTACT,
    AudienceItem,
    Broadcast,
    Flow,
    FlowStatus,
    ItemKind,
    Message,
    MessageStatus,
)
from dnc import services as dnc_services

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

    checks = [
        (spec.tag_ids, apps.get_model("tags", "Tag"), "tag"),
        (spec.company_ids, Company, "company"),
    ]
    if spec.segment_ids:
        checks.append((spec.segment_ids, apps.get_model("segments", "Segment"), "segment"))
    for ids, model, label in checks:
        if ids and model.objects.filter(account=account, pk__in=ids).count() != len(set(ids)):
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
    user: AbstractBaseUser | None,
    name: str,
    channel: str,
    sender: str,
    text: str,
    audience: AudienceSpec,
) -> Broadcast:
    """A draft broadcast with its recipients; nothing is sent until `broadcast_send`."""
    if not audience:
        raise ValidationError("Choose the recipients: profiles from People, a segment or tags.")
    _audience_check(account, audience)
    broadcast = Broadcast(
        account=account, created_by=user, name=name.strip(), channel=channel, sender=sender.strip(), text=text
    )
    broadcast.full_clean(exclude=["account", "created_by", "queued_by"])
    broadcast.save()
    AudienceItem.objects.bulk_create(audience_items(account, audience, broadcast=broadcast))
    return broadcast


def broadcast_send(*, broadcast: Broadcast, user: AbstractBaseUser | None) -> Broadcast:
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
    """Send a queued broadcast in chunks of recipients (by profile id). Each chunk commits its
    message rows, counters and cursor together, so a retried or resumed run carries on where the
    last committed chunk ended and never hands a recipient to the backend twice."""
    if not Broadcast.objects.filter(pk=broadcast_id, queued_at__isnull=False).exists():
        return
    if not job_claim(Broadcast, broadcast_id):
        return
    broadcast = Broadcast.objects.select_related("account").get(pk=broadcast_id)
    backend = backends.backend_get()
    try:
        recipients = selectors.broadcast_recipients(broadcast=broadcast)
        if not broadcast.total:
            Broadcast.objects.filter(pk=broadcast.pk).update(total=recipients.count())
        while True:
            ids = list(
                recipients.filter(pk__gt=broadcast.cursor)
                .order_by("pk")
                .values_list("pk", flat=True)[:SEND_CHUNK]
            )
            if not ids:
                break
            _broadcast_chunk(broadcast, ids, backend)
            broadcast.refresh_from_db()
            if broadcast.status != JobStatus.RUNNING:  # cancelled meanwhile
                return
    except Exception as error:
        logger.exception("broadcast %s failed", broadcast_id)
        broadcast.refresh_from_db()
        job_finish(broadcast, status=JobStatus.FAILED, message=f"Sending stopped: {error}")
        _notify(broadcast, f"Broadcast “{broadcast.name}” stopped: {error}", "danger")
        return
    broadcast.refresh_from_db()
    broadcast.total = broadcast.handled
    job_finish(broadcast, message=_summary(broadcast))
    _notify(broadcast, f"Broadcast “{broadcast.name}” is done: {_summary(broadcast)}", "success")


def _summary(b: Broadcast) -> str:
    return (
        f"{b.handled:,} recipients: {b.sent:,} sent, {b.blocked_dnc:,} blocked by Do Not Contact, "
        f"{b.no_destination:,} without a destination, {b.failed:,} failed."
    )


def _notify(broadcast: Broadcast, message: str, level: str) -> None:
    notification_create(
        account=broadcast.account,
        user=broadcast.queued_by or broadcast.created_by,
        message=message,
        url=broadcast.get_absolute_url(),
        level=level,
    )


def _destinations(account: Account, channel: str, profile_ids: list[int]) -> dict[int, list[str]]:
    """Each profile's contacts that reach it on `channel`, oldest first."""
    found: dict[int, list[str]] = {}
    rows = (
        Contact.objects.filter(account=account, profile_id__in=profile_ids, kind=CHANNEL_CONTACT[channel])
        .order_by("profile_id", "id")
        .values_list("profile_id", "value")
    )
    for profile_id, value in rows:
        found.setdefault(profile_id, []).append(value)
    return found


@transaction.atomic
def _broadcast_chunk(broadcast: Broadcast, ids: list[int], backend: backends.BaseBackend) -> None:
    locked = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
    if locked.cursor >= ids[-1]:  # another worker did this chunk
        return
    done = set(
        Message.objects.filter(broadcast=broadcast, profile_id__in=ids).values_list("profile_id", flat=True)
    )
    todo = [pk for pk in ids if pk not in done]
    destinations = _destinations(broadcast.account, broadcast.channel, todo)
    blocked = dnc_services.dnc_blocked_destinations(
        account=broadcast.account,
        channel=broadcast.channel,
        sender=broadcast.sender,
        destinations=[value for values in destinations.values() for value in values],
    )
    outcome: dict[int, tuple[str, str]] = {}  # profile -> (status, destination)
    outgoing: list[backends.Outgoing] = []
    for pk in todo:
        values = destinations.get(pk, [])
        # Do Not Contact is kept per destination: a person is reached on the first of their
        # contacts for the channel that is not blocked, and not at all when all of them are.
        allowed = [value for value in values if value not in blocked]
        if not values:
            outcome[pk] = (MessageStatus.NO_DESTINATION, "")
        elif not allowed:
            outcome[pk] = (MessageStatus.BLOCKED_DNC, values[0])
        else:
            outcome[pk] = (MessageStatus.SENT, allowed[0])
            outgoing.append(
                backends.Outgoing(
                    broadcast.pk, pk, broadcast.channel, broadcast.sender, allowed[0], broadcast.text
                )
            )
    failures = _backend_send(backend, outgoing)
    now = timezone.now()
    rows = []
    for pk, (status, destination) in outcome.items():
        error = failures.get(pk, "")
        rows.append(
            Message(
                account=broadcast.account,
                broadcast=broadcast,
                profile_id=pk,
                channel=broadcast.channel,
                sender=broadcast.sender,
                destination=destination,
                status=MessageStatus.FAILED if error else status,
                error=error[:500],
                created_at=now,
            )
        )
    Message.objects.bulk_create(rows, batch_size=500)
    counts = {status: 0 for status in MessageStatus.values}
    for row in rows:
        counts[row.status] += 1
    Broadcast.objects.filter(pk=broadcast.pk).update(
        cursor=ids[-1],
        processed=F("processed") + len(rows),
        sent=F("sent") + counts[MessageStatus.SENT],
        blocked_dnc=F("blocked_dnc") + counts[MessageStatus.BLOCKED_DNC],
        no_destination=F("no_destination") + counts[MessageStatus.NO_DESTINATION],
        failed=F("failed") + counts[MessageStatus.FAILED],
    )


def _backend_send(backend: backends.BaseBackend, outgoing: list[backends.Outgoing]) -> dict[int, str]:
    if not outgoing:
        return {}
    try:
        return backend.send(outgoing)
    except Exception as error:  # the provider is down: these recipients failed, the send goes on
        logger.exception("channel backend failed")
        return {message.profile_id: f"The channel backend failed: {error}" for message in outgoing}


# --- Flows ---------------------------------------------------------------------------------------


@transaction.atomic
def flow_create(
    *, account: Account, user: AbstractBaseUser | None, name: str, audience: AudienceSpec | None = None
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


FLOW_TRANSITIONS = {
    FlowStatus.DRAFT: {FlowStatus.ACTIVE},
    FlowStatus.ACTIVE: {FlowStatus.PAUSED, FlowStatus.FINISHED},
    FlowStatus.PAUSED: {FlowStatus.ACTIVE, FlowStatus.FINISHED},
    FlowStatus.FINISHED: set(),
}


def flow_status_set(*, flow: Flow, status: str) -> Flow:
    if status not in FLOW_TRANSITIONS.get(flow.status, set()):
        raise ValidationError(
            f"A {flow.get_status_display().lower()} flow can't become {FlowStatus(status).label.lower()}."
            if status in FlowStatus.values
            else f"{status!r} is not a flow status."
        )
    if status == FlowStatus.ACTIVE and not flow.items.exists():
        raise ValidationError("Add an audience to the flow's entry point before you activate it.")
    flow.status = status
    flow.modified_at = timezone.now()
    flow.save(update_fields=["status", "modified_at"])
    return flow
