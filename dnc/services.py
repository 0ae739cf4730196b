"""Writes of Do Not Contact: entries added (validated, merged into existing entries, in batches
that each commit) and removed, each account's change audited. The enforcement check lives in
`dnc.blocking`; this module names it too, for the senders of messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from audience import counting
from audience.models import Account, Contact, ContactKind
from audience.text import text_storable_fields
from dnc import postgres
from dnc.blocking import CHANNELS
from dnc.blocking import dnc_blocked_destinations as dnc_blocked_destinations
from dnc.blocking import dnc_is_blocked as dnc_is_blocked
from dnc.destinations import contact_parse, sender_normalize
from dnc.models import AuditAction, Channel, DncAudit, DncEntry, DncEntryAccount, How, Kind, Source

ADD_BATCH = 5_000


# --- Adding --------------------------------------------------------------------------------------


@dataclass
class DncRejection:
    line: int  # 1-based position in the input
    contact: str
    reason: str


@dataclass
class DncAddReport:
    created: int = 0  # new entries
    merged: int = 0  # existing entries that now apply to more accounts
    unchanged: int = 0  # already on the list for every account given (or repeated in the input)
    rejected: list[DncRejection] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.created + self.merged + self.unchanged


@dataclass(frozen=True)
class _Key:
    kind: str
    value: str
    sender: str
    channel: str


def dnc_entry_parse(*, contact: str, sender: str = "", channel: str = "") -> _Key:
    """Validate and normalise one entry; ValidationError keyed by field."""
    text_storable_fields({"contact": contact, "sender": sender, "channel": channel})
    try:
        kind, value = contact_parse(contact)
    except ValidationError as error:
        raise ValidationError({"contact": error.messages}) from None
    channel = str(channel or "").strip().upper()
    if channel and channel not in CHANNELS:
        raise ValidationError({"channel": f"{channel} is not a channel."})
    if kind in (Kind.EMAIL, Kind.DOMAIN):
        if channel not in ("", Channel.EMAIL):
            raise ValidationError(
                {"channel": "An email address or domain can only be blocked for the Email channel."}
            )
        channel = Channel.EMAIL  # no other channel can reach an email address
    elif channel == Channel.EMAIL:
        raise ValidationError({"channel": "A phone number can't be blocked for the Email channel."})
    sender = sender_normalize(sender)
    if len(sender) > 100:
        raise ValidationError({"sender": "A sender has at most 100 characters."})
    return _Key(kind, value, sender, channel)


@dataclass(frozen=True)
class DncAdd:
    """What every batch of one add shares: the accounts the entries are added to, where they come
    from, who adds them, the campaign and how (the audit's `how`)."""

    accounts: list[Account]
    source: str
    added_by: User | None = None
    campaign: str = ""
    how: str = How.IMPORT

    @classmethod
    def checked(
        cls, *, accounts: Sequence[Account], source: str, added_by: User | None, campaign: str, how: str
    ) -> DncAdd:
        """ValidationError for no account or an unknown source; the campaign cut to its column."""
        accounts = list(accounts)
        if not accounts:
            raise ValidationError("Choose at least one account.")
        if source not in Source.values:
            raise ValidationError(f"{source!r} is not a source.")
        text_storable_fields({"campaign": campaign})
        return cls(accounts=accounts, source=source, added_by=added_by, campaign=campaign[:255], how=how)


def dnc_entries_add(
    *,
    accounts: Sequence[Account],
    entries: Iterable[dict],
    source: str,
    added_by: User | None = None,
    campaign: str = "",
    how: str = How.IMPORT,
) -> DncAddReport:
    """Add entries (dicts with `contact`, optional `sender` and `channel`) for `accounts`.

    Each is validated and normalised; an existing contact/sender/channel gets the missing accounts
    merged in. Works in batches of 5,000 that each commit, so a retry repeats nothing: a second
    run reports everything as unchanged. Every account added to an entry is audited."""
    add = DncAdd.checked(accounts=accounts, source=source, added_by=added_by, campaign=campaign, how=how)
    report = DncAddReport()
    _keys_add(_entries_parsed(entries, report), add, report)
    return report


def _entries_parsed(entries: Iterable[dict], report: DncAddReport) -> Iterator[_Key]:
    """The keys of the valid entries; the others are added to the report's rejected."""
    for line, item in enumerate(entries, start=1):
        try:
            key = dnc_entry_parse(
                contact=item.get("contact", ""),
                sender=item.get("sender") or "",
                channel=item.get("channel") or "",
            )
        except ValidationError as error:
            reason = " ".join(message for messages in error.message_dict.values() for message in messages)
            report.rejected.append(DncRejection(line, str(item.get("contact", "")), reason))
            continue
        yield key


def dnc_entries_add_normalized(
    *,
    accounts: Sequence[Account],
    keys: Iterable[tuple[str, str, str, str]],
    source: str,
    added_by: User | None = None,
    campaign: str = "",
    how: str = How.IMPORT,
) -> DncAddReport:
    """`dnc_entries_add` for entries validated already: `keys` are (kind, value, sender,
    channel) tuples exactly as `dnc_entry_parse` returns them (the imports' analysis did that).
    Nothing is validated again; repeats count as unchanged; the same batch writer and audit."""
    add = DncAdd.checked(accounts=accounts, source=source, added_by=added_by, campaign=campaign, how=how)
    report = DncAddReport()
    _keys_add((_Key(kind, value, sender, channel) for kind, value, sender, channel in keys), add, report)
    return report


def _keys_add(keys: Iterable[_Key], add: DncAdd, report: DncAddReport) -> None:
    """Write the keys in batches of ADD_BATCH; a key repeated in the input counts as unchanged."""
    seen: set[_Key] = set()
    batch: list[_Key] = []
    for key in keys:
        if key in seen:
            report.unchanged += 1
            continue
        seen.add(key)
        batch.append(key)
        if len(batch) == ADD_BATCH:
            _add_batch(batch, add, report)
            batch = []
    if batch:
        _add_batch(batch, add, report)


def _entries_by_key(keys: list[_Key]) -> dict[_Key, DncEntry]:
    found: dict[_Key, DncEntry] = {}
    wanted = set(keys)
    values = sorted({key.value for key in keys})
    for start in range(0, len(values), 900):
        for entry in DncEntry.objects.filter(value__in=values[start : start + 900]):
            key = _Key(entry.kind, entry.value, entry.sender, entry.channel)
            if key in wanted:
                found[key] = entry
    return found


def _add_batch(keys: list[_Key], add: DncAdd, report: DncAddReport) -> None:
    if not (connection.vendor == "postgresql" and postgres.add_batch(keys, add, report)):
        _add_batch_generic(keys, add, report)
    counting.data_changed(account_ids=[account.pk for account in add.accounts])


@transaction.atomic
def _add_batch_generic(keys: list[_Key], add: DncAdd, report: DncAddReport) -> None:
    accounts, added_by = add.accounts, add.added_by
    now = timezone.now()
    existing = _entries_by_key(keys)
    new_keys = [key for key in keys if key not in existing]
    DncEntry.objects.bulk_create(
        [
            DncEntry(kind=k.kind, value=k.value, sender=k.sender, channel=k.channel, created_at=now)
            for k in new_keys
        ],
        ignore_conflicts=True,  # a concurrent add of the same entry is a merge, not an error
    )
    entries = {**existing, **_entries_by_key(new_keys)} if new_keys else existing
    account_ids = [account.pk for account in accounts]
    present: set[tuple[int, int]] = set()
    entry_ids = [entry.pk for entry in entries.values()]
    for start in range(0, len(entry_ids), 900):
        present.update(
            DncEntryAccount.objects.filter(
                entry_id__in=entry_ids[start : start + 900], account_id__in=account_ids
            ).values_list("entry_id", "account_id")
        )
    rows, audits = [], []
    for key in keys:
        entry = entries[key]
        missing = [account for account in accounts if (entry.pk, account.pk) not in present]
        if not missing:
            report.unchanged += 1
            continue
        if key in existing:
            report.merged += 1
        else:
            report.created += 1
        for account in missing:
            rows.append(
                DncEntryAccount(
                    entry=entry,
                    account=account,
                    kind=key.kind,
                    value=key.value,
                    sender=key.sender,
                    channel=key.channel,
                    source=add.source,
                    campaign=add.campaign,
                    added_at=now,
                    added_by=added_by,
                )
            )
            audits.append(_audit(AuditAction.ADD, rows[-1], account, added_by, add.how, now))
    DncEntryAccount.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    DncAudit.objects.bulk_create(audits, batch_size=2000)


def _audit(action: str, row: DncEntryAccount, account: Account, user, how: str, at) -> DncAudit:
    return DncAudit(
        action=action,
        at=at,
        account_id=account.pk,
        account_name=account.name,
        entry_id_copy=row.entry_id,
        kind=row.kind,
        value=row.value,
        sender=row.sender,
        channel=row.channel,
        source=row.source,
        campaign=row.campaign,
        how=how,
        user_id=user.pk if user is not None else None,
        username=user.get_username() if user is not None else "",
    )


def dnc_entry_add(
    *,
    accounts: Sequence[Account],
    contact: str,
    sender: str = "",
    channel: str = "",
    source: str = Source.CUSTOM,
    added_by: User | None = None,
    campaign: str = "",
    how: str = How.UI,
) -> DncEntry:
    """Add one entry (the screen's "Add new"); ValidationError keyed by field, also when it is
    already on the list for every account given."""
    key = dnc_entry_parse(contact=contact, sender=sender, channel=channel)
    report = dnc_entries_add(
        accounts=accounts,
        entries=[{"contact": contact, "sender": sender, "channel": channel}],
        source=source,
        added_by=added_by,
        campaign=campaign,
        how=how,
    )
    if report.unchanged:
        raise ValidationError({"contact": f"{key.value} is already on the list for this sender and channel."})
    return DncEntry.objects.get(value=key.value, sender=key.sender, channel=key.channel)


# --- Removing ------------------------------------------------------------------------------------


def dnc_entry_remove(*, entry: DncEntry, account: Account, removed_by: User | None, how: str) -> bool:
    """Take `account` off the entry (the entry goes when no account is left); audited.
    False when the entry did not apply to the account."""
    return dnc_entries_remove(entry_ids=[entry.pk], account=account, removed_by=removed_by, how=how) == 1


@transaction.atomic
def dnc_entries_remove(
    *, entry_ids: Iterable[int], account: Account, removed_by: User | None, how: str
) -> int:
    """Take `account` off each of these entries; returns how many applied to it."""
    ids = sorted(set(entry_ids))
    removed = 0
    now = timezone.now()
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        rows = list(DncEntryAccount.objects.select_for_update().filter(account=account, entry_id__in=chunk))
        if not rows:
            continue
        DncAudit.objects.bulk_create(
            [_audit(AuditAction.REMOVE, row, account, removed_by, how, now) for row in rows]
        )
        DncEntryAccount.objects.filter(pk__in=[row.pk for row in rows]).delete()
        DncEntry.objects.filter(pk__in=[row.entry_id for row in rows], memberships__isnull=True).delete()
        removed += len(rows)
    if removed:
        counting.data_changed(account_ids=[account.pk])
    return removed


def dnc_profiles_add(
    *,
    account: Account,
    profiles: QuerySet,
    channel: str = "",
    sender: str = "",
    added_by: User | None = None,
    how: str = How.UI,
) -> DncAddReport:
    """Put the contacts of these profiles on the list of `account`: phones and emails for a blank
    channel, emails only for Email, phones only for the others. Reads contacts in chunks."""
    contacts = Contact.objects.filter(account=account, profile__in=profiles.values("pk"))
    if channel == Channel.EMAIL:
        contacts = contacts.filter(kind=ContactKind.EMAIL)
    elif channel:
        contacts = contacts.filter(kind=ContactKind.PHONE)
    values = contacts.values_list("value", flat=True).iterator(chunk_size=ADD_BATCH)
    return dnc_entries_add(
        accounts=[account],
        entries=({"contact": value, "sender": sender, "channel": channel} for value in values),
        source=Source.CUSTOM,
        added_by=added_by,
        how=how,
    )
