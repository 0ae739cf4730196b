"""Reads of Do Not Contact: the screen's list (and exports), the profile card, the rule engine."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Reverse, StrIndex, Substr
from django.http import QueryDict

from audience.models import Account, Contact, ContactKind, Profile
from dnc.filters import DncAuditFilterSet, DncEntryFilterSet
from dnc.models import Channel, DncAudit, DncEntryAccount, Kind

SORTS = {
    "contact": "value",
    "sender": "sender",
    "source": "source",
    "channel": "channel",
    "added": "added_at",
}
DEFAULT_SORT = "-added"


def entry_filterset(*, account: Account, data, account_choices=()) -> DncEntryFilterSet:
    """The screen's FilterSet over the entries that apply to `account`; `account_choices` are
    the (id, name) of the other accounts the user may filter by."""
    queryset = DncEntryAccount.objects.filter(account=account)
    return DncEntryFilterSet(data, queryset=queryset, account=account, account_choices=account_choices)


def entries_for_account(*, account: Account, filters, account_choices=()) -> QuerySet:
    """The entries (`DncEntryAccount` rows, one per entry) that apply to `account`, filtered as the
    screen filters (a QueryDict or {name: [values]}); ValidationError for a bad filter."""
    if not isinstance(filters, QueryDict):
        data = QueryDict(mutable=True)
        for key, values in (filters or {}).items():
            data.setlist(key, values if isinstance(values, list | tuple) else [values])
        filters = data
    filterset = entry_filterset(account=account, data=filters, account_choices=account_choices)
    if not filterset.is_valid():
        raise ValidationError("; ".join(f"{k}: {' '.join(v)}" for k, v in filterset.errors.items()))
    return filterset.qs


@dataclass
class Page:
    rows: list[DncEntryAccount]
    next_cursor: str | None
    sort: str


def _cursor_encode(row: DncEntryAccount, field: str) -> str:
    value = getattr(row, field)
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    raw = json.dumps([value, row.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_decode(cursor: str, field: str):
    try:
        value, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if field == "added_at":
            value = dt.datetime.fromisoformat(value)
        return value, int(pk)
    except (ValueError, TypeError):
        return None


def entries_page(queryset: QuerySet, *, sort: str = DEFAULT_SORT, after: str = "", size: int = 50) -> Page:
    """One page in keyset order (sort field, then id), never OFFSET: the same speed on page 1
    and page 20,000."""
    if sort.lstrip("-") not in SORTS:
        sort = DEFAULT_SORT
    descending = sort.startswith("-")
    field = SORTS[sort.lstrip("-")]
    if after and (cursor := _cursor_decode(after, field)):
        value, pk = cursor
        if descending:
            queryset = queryset.filter(Q(**{f"{field}__lt": value}) | Q(**{field: value, "pk__lt": pk}))
        else:
            queryset = queryset.filter(Q(**{f"{field}__gt": value}) | Q(**{field: value, "pk__gt": pk}))
    order = [f"-{field}", "-pk"] if descending else [field, "pk"]
    rows = list(queryset.order_by(*order).select_related("added_by")[: size + 1])
    next_cursor = _cursor_encode(rows[size - 1], field) if len(rows) > size else None
    return Page(rows=rows[:size], next_cursor=next_cursor, sort=sort)


def entry_accounts(*, entry_ids: list[int], account_ids: list[int]) -> dict[int, list[Account]]:
    """For the Account column: which of these accounts (the user's) each entry applies to."""
    result: dict[int, list[Account]] = {}
    rows = (
        DncEntryAccount.objects.filter(entry_id__in=entry_ids, account_id__in=account_ids)
        .select_related("account")
        .order_by("account__name")
    )
    for row in rows:
        result.setdefault(row.entry_id, []).append(row.account)
    return result


def profile_blocks(*, account: Account, profile: Profile) -> list[tuple[Contact, list[DncEntryAccount]]]:
    """For the profile card: each contact of the profile and the entries that block it here."""
    contacts = list(profile.contacts.all())
    values = {contact.value for contact in contacts}
    domains = {c.value.rsplit("@", 1)[1] for c in contacts if c.kind == ContactKind.EMAIL and "@" in c.value}
    rows = list(
        DncEntryAccount.objects.filter(account=account)
        .filter(Q(value__in=values) | Q(kind=Kind.DOMAIN, value__in=domains))
        .order_by("channel", "sender")
    )
    result = []
    for contact in contacts:
        domain = contact.value.rsplit("@", 1)[-1] if contact.kind == ContactKind.EMAIL else None
        matching = [
            r for r in rows if r.value == contact.value or (r.kind == Kind.DOMAIN and r.value == domain)
        ]
        result.append((contact, matching))
    return result


DOMAINS_INLINE = 50  # up to this many domain entries become index range scans (see below)


def profiles_blocked(*, account: Account, channel: str) -> QuerySet:
    """The profile ids (a `values("profile_id")` queryset, possibly with repeats) of this
    account's profiles with a contact blocked for `channel` ("any": for some channel), whatever
    the sender. The rule engine uses `profiles_blocked_parts`, which this is the union of."""
    first, *rest = profiles_blocked_parts(account=account, channel=channel)
    return first.union(*rest, all=True) if rest else first


def profiles_blocked_parts(*, account: Account, channel: str) -> list[QuerySet]:
    """`profiles_blocked` as a few `Contact.values("profile_id")` querysets whose union it is:
    the `dnc` attribute of the rule engine, which tests each with its own EXISTS.

    Driven from the account's entries, usually far fewer than its contacts: contacts whose value
    equals an entry's (an index lookup per entry), then email contacts under each of the entries'
    domains, read now: one index-only range of contact_rule_reverse per domain
    (`reverse(value) LIKE 'gro.elpmaxe@%'`, which INCLUDEs profile_id); past DOMAINS_INLINE
    domains, one join on the email's domain instead: probing every contact for a matching entry
    reads every contact of the account (docs/performance.md)."""
    entries = DncEntryAccount.objects.filter(account=account)
    if channel != "any":
        if channel not in Channel.values:
            raise ValidationError(f"{channel!r} is not a channel.")
        entries = entries.filter(channel__in=("", channel))
    contacts = Contact.objects.filter(account=account).order_by()
    exact = contacts.filter(kind__in=ContactKind.values, value__in=entries.values("value"))
    domain_entries = entries.filter(kind=Kind.DOMAIN).order_by()
    domains = list(domain_entries.values_list("value", flat=True).distinct()[: DOMAINS_INLINE + 1])
    emails = contacts.filter(kind=ContactKind.EMAIL)
    if len(domains) > DOMAINS_INLINE:
        domain = Substr("value", StrIndex("value", Value("@")) + 1)
        under = [emails.annotate(domain=domain).filter(domain__in=domain_entries.values("value"))]
    else:
        reversed_emails = emails.annotate(reversed_value=Reverse("value"))
        under = [reversed_emails.filter(reversed_value__startswith=f"@{d}"[::-1]) for d in domains]
    return [rows.values("profile_id") for rows in (exact, *under)]


@dataclass
class AuditPage:
    rows: list[DncAudit]
    next_before: int | None


def audit_filterset(*, account: Account, data) -> DncAuditFilterSet:
    return DncAuditFilterSet(data, queryset=DncAudit.objects.filter(account_id=account.pk), account=account)


def audit_page(*, account: Account, before: str = "", filters=None, size: int = 50) -> AuditPage:
    """The account's audit trail, filtered as the screen filters, newest first, in keyset pages
    by id; ValidationError for a bad filter."""
    filterset = audit_filterset(account=account, data=filters or {})
    if not filterset.is_valid():
        raise ValidationError("; ".join(f"{k}: {' '.join(v)}" for k, v in filterset.errors.items()))
    queryset = filterset.qs
    if before.isdigit():
        queryset = queryset.filter(pk__lt=int(before))
    rows = list(queryset.order_by("-pk")[: size + 1])
    return AuditPage(rows=rows[:size], next_before=rows[size - 1].pk if len(rows) > size else None)
