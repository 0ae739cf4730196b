"""What comes back from the provider by webhook: the account a request belongs to (a secret in
its URL), the request kept as a `WebhookBatch` row and worked on by a job, and the delivery
reports that move messages to delivered, undeliverable or expired.

The request only checks the body's shape and stores it (one row, one task queued on commit), so
it answers in milliseconds however many results it carries; the job does the rest, idempotently:
run twice, a batch changes nothing more. Inbound messages are `communications.inbound`.

Delivery reports (Infobip's JSON, `{"results": [{"messageId", "status": {"groupName", …},
"doneAt", "error": {…}, …}]}`): `messageId` is our idempotency key `"<broadcast id>:<profile
id>"` (`backends.message_key`), parsed back into the message's unique (broadcast, profile), so
a report finds its message by the unique index. PENDING is intermediate; DELIVERED,
UNDELIVERABLE, EXPIRED and REJECTED (failed) are final. Reports repeat and arrive out of
order: an intermediate report never replaces a final status, and a final one replaces another
final one only when its `doneAt` is later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audience import counting
from audience.jobs import JobDone, JobRun, job_enqueue, job_run
from audience.models import Account
from communications.models import (
    Broadcast,
    InboundSettings,
    Message,
    MessageStatus,
    WebhookBatch,
    WebhookKind,
)

logger = logging.getLogger(__name__)

MAX_RESULTS = 10_000  # results in one request (Infobip posts up to 100 by default)

# --- The secret ----------------------------------------------------------------------------------


def webhook_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def webhook_token_rotate(*, account: Account, user: AbstractBaseUser | None) -> str:
    """Make a new secret for the account's webhook URLs (the old one stops working at once) and
    return it: it is shown once, only its hash is kept."""
    token = secrets.token_urlsafe(32)
    InboundSettings.objects.update_or_create(
        account=account,
        defaults={
            "token_hash": webhook_token_hash(token),
            "token_prefix": token[:8],
            "token_created_at": timezone.now(),
            "modified_by": user,
            "modified_at": timezone.now(),
        },
    )
    return token


def webhook_account(*, token: str) -> Account | None:
    """The account whose webhook secret this is, or None."""
    if not token or len(token) > 200:
        return None
    row = (
        InboundSettings.objects.select_related("account").filter(token_hash=webhook_token_hash(token)).first()
    )
    return row.account if row else None


# --- Receiving -----------------------------------------------------------------------------------


def _text(result: dict, key: str, path: str, *, required: bool = True, limit: int = 0) -> None:
    value = result.get(key)
    if value is None or value == "":
        if required:
            raise ValidationError(f"{path}.{key}: missing.")
        return
    if not isinstance(value, str | int):
        raise ValidationError(f"{path}.{key}: expected a text.")
    if limit and len(str(value)) > limit:
        raise ValidationError(f"{path}.{key}: at most {limit} characters.")


def webhook_payload_check(*, kind: str, payload: object) -> list[dict]:
    """The results of a webhook body, or ValidationError naming the first problem by its path
    (`results[3].messageId: missing.`). Only the fields Audience reads are checked."""
    if not isinstance(payload, dict):
        raise ValidationError("The body must be a JSON object with a “results” list.")
    results = payload.get("results")
    if not isinstance(results, list):
        raise ValidationError("results: expected a list.")
    if len(results) > MAX_RESULTS:
        raise ValidationError(f"results: at most {MAX_RESULTS:,} in one request.")
    for index, result in enumerate(results):
        path = f"results[{index}]"
        if not isinstance(result, dict):
            raise ValidationError(f"{path}: expected an object.")
        _text(result, "messageId", path, limit=200)
        if kind == WebhookKind.INBOUND_WHATSAPP:
            _text(result, "from", path, limit=64)
            _text(result, "to", path, required=False, limit=100)
            _text(result, "receivedAt", path, required=False, limit=40)
            if result.get("message") is not None and not isinstance(result["message"], dict):
                raise ValidationError(f"{path}.message: expected an object.")
        elif kind == WebhookKind.INBOUND_SMS:
            _text(result, "from", path, limit=64)
            _text(result, "to", path, required=False, limit=100)
            _text(result, "text", path, required=False)
            _text(result, "receivedAt", path, required=False, limit=40)
        else:
            status = result.get("status")
            if not isinstance(status, dict) or not isinstance(status.get("groupName"), str):
                raise ValidationError(f"{path}.status.groupName: missing.")
            _text(result, "doneAt", path, required=False, limit=40)
            if result.get("error") is not None and not isinstance(result["error"], dict):
                raise ValidationError(f"{path}.error: expected an object.")
    return results


@transaction.atomic
def webhook_batch_receive(*, account: Account, kind: str, payload: dict) -> WebhookBatch:
    """Keep a checked webhook body and queue its job (on commit). Nothing else happens here."""
    from communications import tasks

    results = webhook_payload_check(kind=kind, payload=payload)
    batch = WebhookBatch.objects.create(account=account, kind=kind, payload=payload, total=len(results))
    job_enqueue(tasks.webhook_batch_process_task, batch)
    return batch


def webhook_batch_run(*, batch_id: int) -> WebhookBatch | None:
    """The job of one batch: hand it to its kind's processing. Processing commits in chunks and
    is idempotent, so a retried or resumed batch repeats nothing; a failed batch keeps its payload
    on the row, to be queued again once the cause is fixed."""
    return job_run(WebhookBatch, batch_id, work=_webhook_batch_work)


def _webhook_batch_work(run: JobRun) -> JobDone | None:
    from communications import inbound

    batch = run.job
    if batch.kind in (WebhookKind.INBOUND_SMS, WebhookKind.INBOUND_WHATSAPP):
        inbound.inbound_batch_process(batch=batch)
    else:
        delivery_reports_process(batch=batch)
    batch.refresh_from_db()
    message = _summary(batch)
    # Webhook batches have no person waiting for them: the row and the log say how they ended.
    return JobDone(message=message, notice="")


def _summary(batch: WebhookBatch) -> str:
    if batch.kind in (WebhookKind.INBOUND_SMS, WebhookKind.INBOUND_WHATSAPP):
        return (
            f"{batch.total:,} message{pluralize(batch.total)}: {batch.applied:,} changed Do Not Contact, "
            f"{batch.repeated:,} repeated or overtaken, {batch.ignored:,} from a number that is not a phone."
        )
    return (
        f"{batch.total:,} report{pluralize(batch.total)}: {batch.applied:,} applied, {batch.repeated:,} "
        f"repeated or older, {batch.ignored:,} for messages Audience does not know."
    )


# --- Delivery reports ----------------------------------------------------------------------------

# Infobip's status groups. PENDING (and ACCEPTED, which some APIs send) only says the provider has
# the message: it makes a message we still had `queued` `sent`, nothing more.
REPORT_STATUS = {
    "PENDING": MessageStatus.SENT,
    "ACCEPTED": MessageStatus.SENT,
    "DELIVERED": MessageStatus.DELIVERED,
    "UNDELIVERABLE": MessageStatus.UNDELIVERABLE,
    "EXPIRED": MessageStatus.EXPIRED,
    "REJECTED": MessageStatus.FAILED,
}
REPORTED_FINAL = {MessageStatus.DELIVERED, MessageStatus.UNDELIVERABLE, MessageStatus.EXPIRED}
NEVER_SENT = {MessageStatus.BLOCKED_DNC, MessageStatus.NO_DESTINATION}


@dataclass(frozen=True)
class Report:
    broadcast_id: int
    profile_id: int
    status: str
    done_at: dt.datetime | None
    error: str


def message_key_parse(key: str) -> tuple[int, int] | None:
    """(broadcast id, profile id) of an idempotency key `"<broadcast id>:<profile id>"`."""
    left, sep, right = str(key).partition(":")
    if not sep or not left.isdigit() or not right.isdigit():
        return None
    return int(left), int(right)


def _report_error(result: dict, status: str) -> str:
    """The error text to keep: the report's error when it names one, else the status's own
    description for a message that did not arrive; nothing for a delivered one."""
    if status in (MessageStatus.DELIVERED, MessageStatus.SENT):
        return ""
    error = result.get("error") or {}
    text = ""
    if str(error.get("groupName") or "OK").upper() != "OK" or error.get("id") not in (None, 0, "0"):
        text = str(error.get("description") or error.get("name") or "")
    if not text:
        state = result.get("status") or {}
        text = str(state.get("description") or state.get("name") or state.get("groupName") or "")
    return text[:500]


def report_parse(result: dict) -> Report | None:
    """A report Audience can apply, or None (a message id that is not ours, an unknown status)."""
    ids = message_key_parse(result.get("messageId", ""))
    status = REPORT_STATUS.get(str((result.get("status") or {}).get("groupName", "")).upper())
    if ids is None or status is None:
        return None
    done_at = parse_datetime(str(result.get("doneAt") or "")) if result.get("doneAt") else None
    if done_at is not None and timezone.is_naive(done_at):
        done_at = timezone.make_aware(done_at, dt.UTC)
    return Report(ids[0], ids[1], status, done_at, _report_error(result, status))


def report_applies(message: Message, report: Report) -> bool:
    """Does this report change the message? Final never goes back to intermediate; a final
    report replaces another final report only when it is later; a hand-off failure (no report
    yet) gives way to what the provider reports."""
    if message.status in NEVER_SENT:
        return False
    if report.status == MessageStatus.SENT:
        return message.status == MessageStatus.QUEUED
    has_final_report = message.status in REPORTED_FINAL or (
        message.status == MessageStatus.FAILED and message.reported_at is not None
    )
    if has_final_report:
        return (
            report.done_at is not None
            and message.reported_at is not None
            and report.done_at > message.reported_at
            and (report.status, report.error) != (message.status, message.error)
        )
    return True


def delivery_reports_process(*, batch: WebhookBatch) -> None:
    reports: dict[int, list[Report]] = {}
    ignored = 0
    for result in batch.payload.get("results", []):
        report = report_parse(result)
        if report is None:
            ignored += 1
        else:
            reports.setdefault(report.broadcast_id, []).append(report)
    # A resumed batch counts again from zero: what it applied before now counts as repeated.
    WebhookBatch.objects.filter(pk=batch.pk).update(ignored=ignored, processed=ignored, applied=0, repeated=0)
    for broadcast_id, items in sorted(reports.items()):
        _reports_apply(batch, broadcast_id, items)


@transaction.atomic
def _reports_apply(batch: WebhookBatch, broadcast_id: int, reports: list[Report]) -> None:
    """One broadcast's reports, in one transaction with the broadcast row locked: the lock the
    send takes to commit hand-off outcomes, so a report that finds a message still `queued`
    counts it (sent or failed) exactly once, and the send's own commit then leaves it alone."""
    locked = (
        Broadcast.objects.select_for_update()
        .filter(pk=broadcast_id, account=batch.account)
        .values_list("pk", flat=True)
    )
    if not list(locked):  # not a broadcast of this account: as if unknown
        WebhookBatch.objects.filter(pk=batch.pk).update(
            ignored=F("ignored") + len(reports), processed=F("processed") + len(reports)
        )
        return
    profile_ids = sorted({report.profile_id for report in reports})
    messages: dict[int, Message] = {}
    for start in range(0, len(profile_ids), 900):
        for message in Message.objects.filter(
            broadcast_id=broadcast_id, profile_id__in=profile_ids[start : start + 900]
        ):
            messages[message.profile_id] = message
    applied = repeated = ignored = sent = failed = 0
    changed: dict[int, Message] = {}
    # Oldest first, so that of two final reports in one batch the later one stays.
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    for report in sorted(reports, key=lambda r: r.done_at or epoch):
        message = messages.get(report.profile_id)
        if message is None:
            ignored += 1
            continue
        if not report_applies(message, report):
            repeated += 1
            continue
        applied += 1
        if message.status == MessageStatus.QUEUED:  # the report answers the hand-off
            if report.status == MessageStatus.FAILED:
                failed += 1
            else:
                sent += 1
        message.status = report.status
        message.error = report.error
        if report.status != MessageStatus.SENT:
            message.reported_at = report.done_at or timezone.now()
        changed[message.pk] = message
    Message.objects.bulk_update(list(changed.values()), ["status", "error", "reported_at"], batch_size=500)
    if changed:  # message statuses feed the "contacted" and "reached" quick filters
        counting.data_changed(account_ids=[batch.account_id])
    if sent or failed:
        Broadcast.objects.filter(pk=broadcast_id).update(
            processed=F("processed") + sent + failed, sent=F("sent") + sent, failed=F("failed") + failed
        )
    WebhookBatch.objects.filter(pk=batch.pk).update(
        applied=F("applied") + applied,
        repeated=F("repeated") + repeated,
        ignored=F("ignored") + ignored,
        processed=F("processed") + len(reports),
    )
