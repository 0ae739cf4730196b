"""Messages from end users (Infobip's inbound SMS, `MO_JSON_2`, and inbound WhatsApp) and the
opt-out words in them.

A message whose whole text — trimmed, spaces collapsed, case ignored — is a STOP word puts the
sender's number on Do Not Contact for the channel it came by (SMS or WhatsApp) from the number it
wrote to (source "Message from the end user", campaign = the last broadcast that reached it on that
channel from that number); a START word takes that entry off again; HELP/INFO never change consent.
Each account adds its own words (`InboundSettings`), the same for both channels. Every change goes
through `dnc.services`, which audits it.

Processing is idempotent: each message is one `InboundMessage` row, unique per (account,
provider's message id), so a message posted twice is handled once. STOP and START are applied in
the order they were *received*, whatever order they are processed in: of several from one number
to one sender on one channel the latest decides, and one older than a message already applied is only recorded
(`superseded`). Chunks of an account are processed one at a time (its settings row is locked),
so two workers can't apply a STOP and a START of one number in the wrong order.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Max
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audience.models import Account, Contact, ContactKind
from communications import flows, replies
from communications.models import (
    HANDED_OVER,
    InboundAction,
    InboundMessage,
    InboundSettings,
    InboundWord,
    Message,
    ReplyStatus,
    WebhookBatch,
    WebhookKind,
)
from dnc import services as dnc_services
from dnc.destinations import destination_normalize, sender_normalize
from dnc.models import DncEntryAccount, How, Source

CHUNK = 1000
STOP_WORDS = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT")
START_WORDS = ("START", "UNSTOP")
HELP_WORDS = ("HELP", "INFO")
MAX_WORDS = 20
MAX_WORD_LENGTH = 40

# --- Words ---------------------------------------------------------------------------------------


def word_key(text: str) -> str:
    """How a message is compared with the words: trimmed, inner spaces collapsed, case folded."""
    return " ".join(str(text or "").split()).casefold()


@dataclass(frozen=True)
class Words:
    stop: frozenset[str]
    start: frozenset[str]
    help: frozenset[str]

    def of(self, text: str) -> str:
        key = word_key(text)
        if key in self.stop:
            return InboundWord.STOP
        if key in self.start:
            return InboundWord.START
        if key in self.help:
            return InboundWord.HELP
        return InboundWord.OTHER


def words_split(raw: str) -> list[str]:
    """An account's words as typed: separated by commas or new lines, shown in capitals."""
    words = []
    for part in re.split(r"[,\n]", str(raw or "")):
        word = " ".join(part.split()).upper()
        if word and word not in words:
            words.append(word)
    return words


def inbound_words(*, settings: InboundSettings | None) -> Words:
    extra_stop = words_split(settings.stop_words) if settings else []
    extra_start = words_split(settings.start_words) if settings else []
    return Words(
        stop=frozenset(word_key(w) for w in (*STOP_WORDS, *extra_stop)),
        start=frozenset(word_key(w) for w in (*START_WORDS, *extra_start)),
        help=frozenset(word_key(w) for w in HELP_WORDS),
    )


def _words_clean(field: str, raw: str, taken: set[str]) -> str:
    words = words_split(raw)
    if len(words) > MAX_WORDS:
        raise ValidationError({field: f"At most {MAX_WORDS} words."})
    for word in words:
        if len(word) > MAX_WORD_LENGTH:
            raise ValidationError({field: f"“{word[:50]}” is longer than {MAX_WORD_LENGTH} characters."})
        if word_key(word) in taken:
            raise ValidationError(
                {field: f"“{word}” already has another meaning (a standard word or one above)."}
            )
    return ", ".join(words)


def inbound_settings_save(
    *,
    account: Account,
    user: AbstractBaseUser | None,
    stop_words: str,
    start_words: str,
    reply_stop: str,
    reply_start: str,
    reply_help: str,
) -> InboundSettings:
    """Save an account's extra words and confirmation replies; ValidationError keyed by field
    (a word may have one meaning only: STOP, START or HELP)."""
    standard = {word_key(w) for w in (*STOP_WORDS, *START_WORDS, *HELP_WORDS)}
    stop = _words_clean("stop_words", stop_words, standard)
    start = _words_clean("start_words", start_words, standard | {word_key(w) for w in words_split(stop)})
    replies_clean = {}
    for field, text in (("reply_stop", reply_stop), ("reply_start", reply_start), ("reply_help", reply_help)):
        text = str(text or "").strip()
        if len(text) > 480:
            raise ValidationError({field: "A reply has at most 480 characters (three SMS parts)."})
        replies_clean[field] = text
    row, _ = InboundSettings.objects.update_or_create(
        account=account,
        defaults={
            "stop_words": stop,
            "start_words": start,
            **replies_clean,
            "modified_by": user,
            "modified_at": timezone.now(),
        },
    )
    return row


# --- Processing ----------------------------------------------------------------------------------


def _received_at(raw, default: dt.datetime) -> dt.datetime:
    value = parse_datetime(str(raw)) if raw else None
    if value is None:
        return default
    return timezone.make_aware(value, dt.UTC) if timezone.is_naive(value) else value


def _row(batch: WebhookBatch, result: dict, words: Words) -> InboundMessage:
    raw_from = str(result.get("from") or "").strip()
    whatsapp = batch.kind == WebhookKind.INBOUND_WHATSAPP
    if whatsapp:  # Infobip's inbound WhatsApp: {"from", "to", "message": {"type", "text"}, …}
        text = str((result.get("message") or {}).get("text") or "")
    else:
        text = str(result.get("text") if result.get("text") is not None else result.get("cleanText") or "")
    return InboundMessage(
        account_id=batch.account_id,
        batch=batch,
        channel="WHATSAPP" if whatsapp else "SMS",
        message_id=str(result["messageId"])[:200],
        # A number that is not a valid phone (a short code, an email) is kept as received: it
        # never starts with "+", which is how processing tells it can't be put on the list.
        number=(destination_normalize(raw_from) or raw_from)[:64],
        to=sender_normalize(str(result.get("to") or ""))[:100],
        text=text[:2000],
        # A WhatsApp message also opens the 24-hour window (communications.whatsapp).
        word=words.of(text),
        received_at=_received_at(result.get("receivedAt"), batch.created_at),
    )


def inbound_batch_process(*, batch: WebhookBatch) -> None:
    """Record each message of the batch once, then apply the new ones in chunks (each commits),
    then send the confirmation replies they queued."""
    settings = InboundSettings.objects.get(account_id=batch.account_id)
    words = inbound_words(settings=settings)
    rows = [_row(batch, result, words) for result in batch.payload.get("results", [])]
    InboundMessage.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    mine = InboundMessage.objects.filter(batch=batch)
    repeated = batch.total - mine.count()  # seen in another batch, or twice in this one
    WebhookBatch.objects.filter(pk=batch.pk).update(
        repeated=repeated, processed=repeated, applied=0, ignored=0
    )
    replies.replies_hand_over(batch_id=batch.pk)  # what a dead worker left queued
    while True:
        ids = list(
            mine.filter(action=InboundAction.PENDING)
            .order_by("received_at", "id")
            .values_list("pk", flat=True)[:CHUNK]
        )
        if not ids:
            break
        _chunk_process(batch, settings, ids)
        replies.replies_hand_over(batch_id=batch.pk)
    _batch_count(batch, repeated)


def _batch_count(batch: WebhookBatch, repeated: int) -> None:
    """The batch's counters from its rows (exact also when a resumed run did part of it)."""
    actions = dict(
        InboundMessage.objects.filter(batch=batch).values_list("action").annotate(n=Count("pk")).order_by()
    )
    WebhookBatch.objects.filter(pk=batch.pk).update(
        processed=repeated + sum(actions.values()),
        applied=actions.get(InboundAction.OPTED_OUT, 0) + actions.get(InboundAction.OPTED_IN, 0),
        repeated=repeated + actions.get(InboundAction.SUPERSEDED, 0),
        ignored=actions.get(InboundAction.INVALID, 0),
    )


@transaction.atomic
def _chunk_process(batch: WebhookBatch, settings: InboundSettings, ids: list[int]) -> None:
    # One chunk of an account at a time: STOP and START of one number are never applied at once.
    InboundSettings.objects.select_for_update().filter(pk=settings.pk).values_list("pk").get()
    settings.refresh_from_db()
    rows = list(
        InboundMessage.objects.filter(pk__in=ids, action=InboundAction.PENDING).order_by("received_at", "id")
    )
    account = batch.account
    latest: dict[tuple[str, str, str], InboundMessage] = {}
    for row in rows:
        if not row.number.startswith("+"):
            row.action = (
                InboundAction.INVALID
                if row.word in (InboundWord.STOP, InboundWord.START)
                else InboundAction.NONE
            )
        elif row.word in (InboundWord.STOP, InboundWord.START):
            earlier = latest.get(_key(row))
            if earlier is not None:
                earlier.action = InboundAction.SUPERSEDED
            latest[_key(row)] = row
        else:
            row.action = InboundAction.NONE
    decided = _decided_after(account, list(latest.values()))
    stops, starts = [], []
    for key, row in latest.items():
        if key in decided and decided[key] > row.received_at:
            row.action = InboundAction.SUPERSEDED
        elif row.word == InboundWord.STOP:
            stops.append(row)
        else:
            starts.append(row)
    _stops_apply(account, stops)
    _starts_apply(account, starts)
    _replies_queue(account, settings, rows)
    for row in rows:  # any other text is a reply a flow's "wait for a reply" step may wait for
        if row.word == InboundWord.OTHER and row.number.startswith("+"):
            flows.flow_reply_received(account=account, phone=row.number, text=row.text)
    now = timezone.now()
    for row in rows:
        row.processed_at = now
    InboundMessage.objects.bulk_update(
        rows, ["action", "processed_at", "reply_text", "reply_status"], batch_size=500
    )
    changed = sum(row.action in (InboundAction.OPTED_OUT, InboundAction.OPTED_IN) for row in rows)
    WebhookBatch.objects.filter(pk=batch.pk).update(
        processed=F("processed") + len(rows),
        applied=F("applied") + changed,
        repeated=F("repeated") + sum(row.action == InboundAction.SUPERSEDED for row in rows),
        ignored=F("ignored") + sum(row.action == InboundAction.INVALID for row in rows),
    )


def _key(row: InboundMessage) -> tuple[str, str, str]:
    """What one STOP or START decides for: the channel it came by, the number, the number it
    wrote to."""
    return (row.channel, row.number, row.to)


def _decided_after(account: Account, rows: list[InboundMessage]) -> dict[tuple[str, str, str], dt.datetime]:
    """For each (channel, number, sender) of these rows: when the latest STOP/START already
    applied was received."""
    numbers = sorted({row.number for row in rows})
    found: dict[tuple[str, str, str], dt.datetime] = {}
    for start in range(0, len(numbers), 900):
        applied = (
            InboundMessage.objects.filter(
                account=account,
                number__in=numbers[start : start + 900],
                word__in=(InboundWord.STOP, InboundWord.START),
            )
            .exclude(action=InboundAction.PENDING)
            .values("channel", "number", "to")
            .annotate(last=Max("received_at"))
            .order_by()
        )
        for item in applied:
            found[(item["channel"], item["number"], item["to"])] = item["last"]
    return found


def _campaigns(account: Account, rows: list[InboundMessage]) -> dict[tuple[str, str, str], str]:
    """For each (channel, number, sender): the name of the last broadcast handed over to that
    number from that sender on that channel — the campaign the opt-out answers. Read through the
    profile's messages."""
    numbers = sorted({row.number for row in rows})
    profile_ids: list[int] = []
    for start in range(0, len(numbers), 900):
        profile_ids += Contact.objects.filter(
            account=account, kind=ContactKind.PHONE, value__in=numbers[start : start + 900]
        ).values_list("profile_id", flat=True)
    channels = sorted({row.channel for row in rows})
    found: dict[tuple[str, str, str], tuple[dt.datetime, str]] = {}
    for start in range(0, len(profile_ids), 900):
        messages = (
            Message.objects.filter(
                account=account,
                profile_id__in=profile_ids[start : start + 900],
                channel__in=channels,
                status__in=HANDED_OVER,
            )
            .order_by("-created_at", "-id")
            .values_list("channel", "destination", "sender", "created_at", "broadcast__name")
        )
        for channel, destination, sender, created_at, name in messages:
            key = (channel, destination, sender_normalize(sender))
            if key not in found or found[key][0] < created_at:
                found[key] = (created_at, name or "")  # a flow's message has no broadcast
    return {key: name for key, (_, name) in found.items()}


def _stops_apply(account: Account, rows: list[InboundMessage]) -> None:
    campaigns = _campaigns(account, rows) if rows else {}
    by_campaign: dict[str, list[InboundMessage]] = {}
    for row in rows:
        by_campaign.setdefault(campaigns.get(_key(row), ""), []).append(row)
    for campaign, group in by_campaign.items():
        report = dnc_services.dnc_entries_add(
            accounts=[account],
            entries=[{"contact": row.number, "channel": row.channel, "sender": row.to} for row in group],
            source=Source.MO,
            campaign=campaign,
            how=How.SOURCE,
        )
        rejected = {rejection.line - 1 for rejection in report.rejected}
        for index, row in enumerate(group):
            row.action = InboundAction.INVALID if index in rejected else InboundAction.OPTED_OUT


def _starts_apply(account: Account, rows: list[InboundMessage]) -> None:
    if not rows:
        return
    wanted = {_key(row) for row in rows}
    numbers = sorted({row.number for row in rows})
    entry_ids: dict[tuple[str, str, str], int] = {}
    for start in range(0, len(numbers), 900):
        for entry_id, channel, value, sender in DncEntryAccount.objects.filter(
            account=account,
            channel__in={row.channel for row in rows},
            value__in=numbers[start : start + 900],
        ).values_list("entry_id", "channel", "value", "sender"):
            if (channel, value, sender) in wanted:
                entry_ids[(channel, value, sender)] = entry_id
    dnc_services.dnc_entries_remove(
        entry_ids=entry_ids.values(), account=account, removed_by=None, how=How.SOURCE
    )
    for row in rows:
        row.action = InboundAction.OPTED_IN if _key(row) in entry_ids else InboundAction.NONE


def _replies_queue(account: Account, settings: InboundSettings, rows: list[InboundMessage]) -> None:
    """Queue the confirmation replies, on the channel the message came by: to a STOP always (the
    customary last message), to START and HELP only when the number is not blocked for that
    channel from that sender (checked after this chunk's changes)."""
    texts = {
        InboundWord.STOP: settings.reply_stop,
        InboundWord.START: settings.reply_start,
        InboundWord.HELP: settings.reply_help,
    }
    candidates = [
        row
        for row in rows
        if texts.get(row.word)
        and row.action not in (InboundAction.SUPERSEDED, InboundAction.INVALID)
        and row.number.startswith("+")
    ]
    by_sender: dict[tuple[str, str], list[str]] = {}
    for row in candidates:
        if row.word != InboundWord.STOP:
            by_sender.setdefault((row.channel, row.to), []).append(row.number)
    blocked = {
        (channel, number, sender)
        for (channel, sender), numbers in by_sender.items()
        for number in dnc_services.dnc_blocked_destinations(
            account=account, channel=channel, sender=sender, destinations=numbers
        )
    }
    for row in candidates:
        row.reply_text = texts[row.word]
        if row.word != InboundWord.STOP and _key(row) in blocked:
            row.reply_status = ReplyStatus.BLOCKED
        else:
            row.reply_status = ReplyStatus.QUEUED
