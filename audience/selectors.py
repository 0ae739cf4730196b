"""Reads of the People domain: the People list (keyset paged), the profile timeline, companies,
configuration lists. Views call these; the querysets always come from `audience.selection`, so the
list, its count, bulk actions and exports agree on what "matching the filter" means."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import BooleanField, CharField, Count, F, Func, QuerySet, Value
from django.db.models.functions import Concat
from django.http import QueryDict
from django.utils.dateparse import parse_datetime

from audience import counting, selection, usage
from audience.models import (
    Account,
    AttributeDefinition,
    Company,
    Event,
    EventDefinition,
    Membership,
    Profile,
)

PAGE_SIZE = 50
EVENTS_PAGE_SIZE = 20
# Sort key (as in ?sort=) -> the columns of the keyset; id always breaks ties.
PROFILE_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("last_name", "first_name"),
    "city": ("city",),
    "country": ("country",),
    "type": ("type",),
    "created": ("created_at",),
}
DEFAULT_SORT = "-created"
# Querystring keys that steer the list but are not filters.
LIST_KEYS = ("sort", "after", "before", "page", "rule")


class RowCompare(Func):
    """`(a, b, …) > (x, y, …)` — a row comparison, served by one btree index on PostgreSQL and
    understood by SQLite (3.15+). Django's ORM has no public form of it."""

    output_field = BooleanField()

    def __init__(self, columns: list, values: list[Any], op: str) -> None:
        self.op = op
        self.width = len(columns)
        left = [F(c) if isinstance(c, str) else c for c in columns]
        super().__init__(*left, *[Value(v) for v in values])

    def as_sql(self, compiler, connection, **extra_context):
        parts = [compiler.compile(e) for e in self.get_source_expressions()]
        sql = [p[0] for p in parts]
        params = [p for _, ps in parts for p in ps]
        left = ", ".join(sql[: self.width])
        right = ", ".join(sql[self.width :])
        return f"(({left}) {self.op} ({right}))", params


@dataclass
class Page:
    rows: list
    sort: str
    next_cursor: str | None = None
    previous_cursor: str | None = None
    extra: dict = field(default_factory=dict)


def _encode_cursor(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, dt.datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, width: int, *, datetimes: bool) -> list[Any] | None:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        return None
    if not isinstance(values, list) or len(values) != width + 1 or not isinstance(values[-1], int):
        return None
    if datetimes:
        parsed = parse_datetime(str(values[0])) if isinstance(values[0], str) else None
        if parsed is None:
            return None
        values[0] = parsed
    elif not all(isinstance(v, str) for v in values[:-1]):
        return None
    return values


def parse_sort(raw: str | None) -> str:
    key = (raw or "").lstrip("-")
    return raw if raw and key in PROFILE_SORTS else DEFAULT_SORT


def keyset_page(
    queryset: QuerySet,
    *,
    columns: tuple[str, ...],
    descending: bool,
    after: str | None = None,
    before: str | None = None,
    size: int = PAGE_SIZE,
    datetimes: bool = False,
    plain_order: bool = False,
) -> tuple[list, str | None, str | None]:
    """One page of `queryset` ordered by `columns` + id, after or before a cursor; never OFFSET.
    Returns (rows, next_cursor, previous_cursor).

    `plain_order` sorts by expressions equal to the text columns (`col || ''`, `id + 0`) that no
    index serves. Use it when a selective filter (the search box) already narrows the rows through
    its own indexes: otherwise PostgreSQL may walk the sort index and filter row by row, which is
    slow when the matches sit far along that order (searching "smi" sorted by name)."""
    keys = [*columns, "id"]
    exprs: list = list(keys)
    if plain_order and not datetimes:
        exprs = [Concat(F(c), Value(""), output_field=CharField()) for c in columns] + [F("id") + 0]
    backwards = bool(before) and not after
    cursor = _decode_cursor((before or "") if backwards else (after or ""), len(columns), datetimes=datetimes)
    # Walking backwards reverses the direction, then the rows are put back in screen order.
    reverse = descending != backwards
    op = "<" if reverse else ">"
    if cursor is not None:
        queryset = queryset.filter(RowCompare(exprs, cursor, op))
    ordering = [
        (F(e) if isinstance(e, str) else e).desc() if reverse else (F(e) if isinstance(e, str) else e).asc()
        for e in exprs
    ]
    rows = list(queryset.order_by(*ordering)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()

    def cursor_of(row) -> str:
        return _encode_cursor([getattr(row, k) for k in keys])

    has_next = more if not backwards else True
    has_previous = (cursor is not None) if not backwards else more
    next_cursor = cursor_of(rows[-1]) if rows and has_next else None
    previous_cursor = cursor_of(rows[0]) if rows and has_previous else None
    return rows, next_cursor, previous_cursor


def people_filters(query: QueryDict) -> dict[str, list[str]]:
    """The filter part of the People querystring (what `profiles_matching` takes)."""
    return {key: query.getlist(key) for key in query if key not in LIST_KEYS}


def people_rule(query: QueryDict) -> dict | None:
    """The advanced rule of the querystring; ValidationError when it is not JSON."""
    return selection._rule_from_query(query)


def profile_list(*, account: Account, query: QueryDict) -> Page:
    """One page of the People list for `query` (filters, rule, sort, after/before)."""
    queryset = selection.profiles_matching(
        account=account, filters=people_filters(query), rule=people_rule(query)
    )
    sort = parse_sort(query.get("sort"))
    columns = PROFILE_SORTS[sort.lstrip("-")]
    rows, next_cursor, previous_cursor = keyset_page(
        queryset.select_related("company"),
        columns=columns,
        descending=sort.startswith("-"),
        after=query.get("after"),
        before=query.get("before"),
        datetimes=columns == ("created_at",),
        plain_order=bool(query.get("q", "").strip()),
    )
    _attach_contacts(rows)
    return Page(rows=rows, sort=sort, next_cursor=next_cursor, previous_cursor=previous_cursor)


def _attach_contacts(rows: list[Profile]) -> None:
    """One query for the contacts of a page of profiles (not one per row)."""
    from audience.models import Contact

    by_profile: dict[int, list] = {row.pk: [] for row in rows}
    if by_profile:
        for contact in Contact.objects.filter(profile_id__in=list(by_profile)).order_by("kind", "id"):
            by_profile[contact.profile_id].append(contact)
    for row in rows:
        row.contact_list = by_profile[row.pk]  # type: ignore[attr-defined]  # read by the template


def profile_count(*, account: Account, query: QueryDict) -> int | None:
    """The number of profiles matching `query`, or None while the database is still counting."""
    counted, found = selection.people_count_elsewhere(account=account, query=query)
    if counted:
        return found
    filters = people_filters(query)
    rule = people_rule(query)
    queryset = selection.profiles_matching(account=account, filters=filters, rule=rule)
    return counting.count_cached(queryset, account_id=account.pk, key=("people", filters, rule))


def profile_events(
    *, profile: Profile, name: str = "", after: str | None = None, before: str | None = None
) -> Page:
    """The profile's events, newest first, keyset paged on (occurred_at, id)."""
    events = Event.objects.filter(profile=profile, account_id=profile.account_id)
    if name:
        events = events.filter(name=name)
    rows, next_cursor, previous_cursor = keyset_page(
        events,
        columns=("occurred_at",),
        descending=True,
        after=after,
        before=before,
        size=EVENTS_PAGE_SIZE,
        datetimes=True,
    )
    return Page(rows=rows, sort="-occurred", next_cursor=next_cursor, previous_cursor=previous_cursor)


def profile_event_names(*, profile: Profile) -> list[str]:
    """Names for the timeline's event filter: the account's definitions (a short list)."""
    return list(EventDefinition.objects.filter(account_id=profile.account_id).values_list("name", flat=True))


def profile_custom_attributes(*, profile: Profile) -> list[tuple[AttributeDefinition | None, str, Any]]:
    """(definition, name, value) for every custom attribute the profile has, by definition order;
    keys without a definition (left by an import) are shown as text."""
    definitions = {d.name: d for d in AttributeDefinition.objects.for_account(profile.account)}
    rows = []
    for name, value in sorted(profile.attributes.items(), key=lambda item: item[0].lower()):
        rows.append((definitions.get(name), name, value))
    return rows


def company_list(
    *, account: Account, search: str = "", after: str | None = None, before: str | None = None
) -> Page:
    """Companies by name, with the number of their profiles (counted for this page only)."""
    companies = Company.objects.for_account(account)
    if search.strip():
        companies = companies.filter(name__istartswith=search.strip())
    rows, next_cursor, previous_cursor = keyset_page(
        companies, columns=("name",), descending=False, after=after, before=before
    )
    counts = dict(
        Profile.objects.filter(account=account, company_id__in=[c.pk for c in rows])
        .values_list("company_id")
        .annotate(n=Count("id"))
        .values_list("company_id", "n")
    )
    for company in rows:
        company.profile_count = counts.get(company.pk, 0)
    return Page(rows=rows, sort="name", next_cursor=next_cursor, previous_cursor=previous_cursor)


def company_profiles(*, company: Company, after: str | None = None, before: str | None = None) -> Page:
    profiles = Profile.objects.filter(account_id=company.account_id, company=company)
    rows, next_cursor, previous_cursor = keyset_page(
        profiles, columns=(), descending=True, after=after, before=before
    )
    _attach_contacts(rows)
    return Page(rows=rows, sort="-id", next_cursor=next_cursor, previous_cursor=previous_cursor)


def attribute_definitions(*, account: Account) -> list[AttributeDefinition]:
    """The account's custom attributes, each with `in_use` (profiles holding the key, as a
    yes/no — an EXISTS per definition, not a count over a million rows) and `used_by`."""
    definitions = list(AttributeDefinition.objects.for_account(account))
    for definition in definitions:
        definition.in_use_by_profiles = attribute_in_use_by_profiles(definition=definition)
        definition.used_by = usage.usage_list(usage.ATTRIBUTE, definition)
        definition.in_use = definition.in_use_by_profiles or bool(definition.used_by)
    return definitions


def attribute_in_use_by_profiles(*, definition: AttributeDefinition) -> bool:
    return Profile.objects.filter(
        account_id=definition.account_id, attributes__has_key=definition.name
    ).exists()


def attribute_profile_count(*, definition: AttributeDefinition) -> int | None:
    queryset = Profile.objects.filter(account_id=definition.account_id, attributes__has_key=definition.name)
    return counting.count_cached(queryset, account_id=definition.account_id, key=("attribute", definition.pk))


def event_definitions(*, account: Account) -> QuerySet:
    return EventDefinition.objects.for_account(account)


def members(*, account: Account) -> QuerySet:
    return Membership.objects.for_account(account).select_related("user").order_by("user__username")


def profile_has_events(*, profile: Profile) -> bool:
    return Event.objects.filter(profile=profile).exists()
