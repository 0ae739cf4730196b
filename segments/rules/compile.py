"""Compiling a normalised rule to ONE queryset over the account's profiles.

Every condition becomes a `Q` on `Profile`; special keys (tags, contacts, Do Not Contact) and
event clauses become `EXISTS (rows of this profile)` semi-joins, and grouped event counts
`pk IN (grouped subquery)`, never per-profile correlated counts. Negative operators are built as
the complement of their positive (`~positive`), so a profile with an empty value matches `is_not`,
`not_in` and `not_contains`; the complement of an EXISTS is a NOT EXISTS anti-join, which
PostgreSQL runs as one hash anti-join whatever the work_mem (`NOT IN (subquery)` needs its hash to
fit work_mem or it re-scans the subquery for every profile).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, Reverse, Upper
from django.db.models.lookups import Exact, GreaterThanOrEqual, In
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audience.models import Account, Contact, Event, EventSummary, Profile
from segments.rules import event_time
from segments.rules import operators as ops
from segments.rules.catalog import Catalog
from segments.rules.errors import UnknownOperator
from segments.rules.operators import AttributeSpec

NOTHING = Q(pk__in=[])
_JSON_KEYS = ("attributes__", "properties__")  # a custom attribute's or an event property's key
EVERYTHING = Q()
# Each family's positive operators and their lookups (`in`, `is_empty` and the negations are
# built from these, see `_value_q`, `_field_q` and `condition_q`).
_TEXT_LOOKUP = {
    "is": "iexact",
    "starts_with": "istartswith",
    "ends_with": "iendswith",
    "contains": "icontains",
}
_NUMBER_LOOKUP = {"is": "exact", "lt": "lt", "lte": "lte", "gte": "gte", "gt": "gt"}
_EXACT_LOOKUP = {"is": "exact"}  # booleans and choices
_CONTACT_LOOKUP = {
    "is": "exact",
    "starts_with": "startswith",
    "ends_with": "endswith",
    "contains": "contains",
}
_RELATIVE = ("will_be_in", "will_be_within", "will_be_more_than", "was", "was_within", "was_more_than")
_DATE_LOOKUP = {"is": "exact", "before": "lt", "until": "lte", "since": "gte", "after": "gt"}


def pick(table: dict, operator: str, what: str) -> Any:
    """`table[operator]`, or UnknownOperator: an operator never falls through to another."""
    try:
        return table[operator]
    except (KeyError, TypeError):
        raise UnknownOperator(operator, what) from None


def exists(rows: QuerySet) -> Q:
    """`EXISTS (rows WHERE profile_id = profile.id)`: a semi-join, and `~` of it an anti-join."""
    return Q(Exists(rows.order_by().filter(profile_id=OuterRef("pk"))))


def complement(q: Q) -> Q:
    """`~q` — except for the empty Q (everything), which Django negates to everything again."""
    return ~q if q else NOTHING


def text_expression(field: str) -> Any:
    """The expression of a text field the way its lookups read it: a column, or a custom
    attribute's `attributes ->> 'name'` (what `attributes__name__iexact` upper-cases)."""
    if field.startswith(_JSON_KEYS):
        column, key = field.split("__", 1)
        return KeyTextTransform(key, column)
    return F(field)


def shift(day: dt.date, amount: int, unit: str) -> dt.date:
    """`day` moved by `amount` days, weeks or calendar months (Jan 31 + 1 month = Feb 28/29)."""
    if unit == "months":
        return day + relativedelta(months=amount)
    return day + dt.timedelta(days=amount * (7 if unit == "weeks" else 1))


def relative_range(operator: str, value: dict, today: dt.date) -> tuple[dt.date | None, dt.date | None, bool]:
    """The date range a relative operator means, as (first, last, strict) where None is open;
    `strict` marks the "more than" operators whose bound is exclusive."""
    if operator not in _RELATIVE:
        raise UnknownOperator(operator, "a date")
    amount, unit = value["amount"], value["unit"]
    future, past = shift(today, amount, unit), shift(today, -amount, unit)
    return {
        "will_be_in": (future, future, False),
        "will_be_within": (today, future, False),
        "will_be_more_than": (future + dt.timedelta(days=1), None, False),
        "was": (past, past, False),
        "was_within": (past, today, False),
        "was_more_than": (None, past - dt.timedelta(days=1), False),
    }[operator]


@dataclass(frozen=True)
class EventMatches:
    """The profiles an event clause's positive part selects: `q`, a condition on Profile, and
    `rows`, one row per matching profile (EventSummary rows, or the events' distinct or grouped
    profile ids), which a count can count as they are, without joining the profiles: an event's
    account is always its profile's (the database refuses anything else, audience.summary)."""

    q: Q
    rows: QuerySet


class Compiler:
    def __init__(
        self,
        account: Account,
        catalog: Catalog | None = None,
        *,
        now: dt.datetime | None = None,
        hashed_sets: bool = False,
        correlated_counts: bool = False,
    ):
        self.account = account
        self.catalog = catalog or Catalog(account)
        self.now = now or timezone.now()
        self.today = self.now.astimezone(account.tz).date()
        # For a count under its own planner settings (segments.selectors.COUNT_SETTINGS, work_mem
        # enough for a hash of every profile id): Do Not Contact as `id IN (set)`, one hash built
        # once whatever the plan around it. Off for listings under the server's work_mem, where a
        # NOT IN whose hash does not fit would re-scan the set for every profile.
        self.hashed_sets = hashed_sets
        # Set when a clause counts events inside a window (a grouped subquery over the events):
        # the count then runs without parallel workers, which would each build the same hash.
        self.grouped_events = False
        # Counts of events inside a window as a count per profile (`COALESCE((SELECT count(*) …
        # WHERE profile_id = profile.id), 0) >= n`, through the event_timeline index) instead of
        # one grouped set of every profile's: faster when the other conditions leave few profiles
        # (segments.selectors.CheaperCount lets the planner's price choose between the two).
        self.correlated_counts = correlated_counts

    # -- the whole rule ---------------------------------------------------------------------
    def rule_q(self, rule: dict) -> Q:
        q = EVERYTHING
        if rule.get("attributes"):
            q &= self.group_q(rule["attributes"])
        for clause in rule.get("events") or []:
            q &= self.event_q(clause)
        return q

    def queryset(self, rule: dict) -> QuerySet:
        return Profile.objects.for_account(self.account).filter(self.rule_q(rule))

    def group_q(self, group: dict) -> Q:
        parts = [self.group_q(c) if "conditions" in c else self.condition_q(c) for c in group["conditions"]]
        if not parts:
            return EVERYTHING
        q = parts[0]
        for part in parts[1:]:
            q = (q | part) if group["match"] == "any" else (q & part)
        return q

    # -- one condition ----------------------------------------------------------------------
    def condition_q(self, condition: dict) -> Q:
        spec = self.catalog.attribute(condition["attribute"])
        operator, value = condition["operator"], condition.get("value")
        if operator in ops.NEGATIONS:
            positive = self.positive_q(spec, ops.NEGATIONS[operator], value)
            return complement(positive)
        return self.positive_q(spec, operator, value)

    def positive_q(self, spec: AttributeSpec, operator: str, value: Any) -> Q:
        """The positive operators; `~` of the result is its exact complement because every
        positive Q is false (never NULL) for an empty value — see `_field_q`."""
        if spec.source == "tags":
            return self._tags_q(operator, value)
        if spec.source == "contact":
            return self._subquery_q(self._contacts(spec.key), "value", spec, operator, value)
        if spec.source == "company":
            return self._company_q(spec, operator, value)
        if spec.source == "dnc":
            return self._dnc_q(operator, value)
        field = spec.key if spec.source == "column" else f"attributes__{spec.label}"
        return self._field_q(
            field, spec, operator, value, nullable=spec.source == "custom" or spec.kind == ops.DATE
        )

    def _field_q(self, field: str, spec: AttributeSpec, operator: str, value: Any, *, nullable: bool) -> Q:
        empty = self._empty_q(field, spec, nullable=nullable)
        if operator == "is_empty":
            return empty
        positive = self._value_q(field, spec, operator, value)
        # SQL comparisons with NULL are unknown, and NOT unknown is still unknown: guard with
        # "not empty" so that the negation of this Q includes the empty rows.
        return (positive & ~empty) if nullable else positive

    def _empty_q(self, field: str, spec: AttributeSpec, *, nullable: bool) -> Q:
        if field.startswith(_JSON_KEYS):
            # A JSON key is empty when it is missing or holds JSON null (`key__isnull` alone is
            # "missing"; `->>` of a null is SQL NULL, which would leave the negatives unknown).
            return Q(**{f"{field}__isnull": True}) | Q(**{field: None})
        if spec.kind == ops.DATETIME:  # created_at / modified_at are never empty
            return NOTHING
        if nullable:
            return Q(**{f"{field}__isnull": True})
        return Q(**{field: ""})

    def _value_q(self, field: str, spec: AttributeSpec, operator: str, value: Any) -> Q:
        family = pick(self._FAMILIES, spec.kind, f"{spec.label} (kind {spec.kind!r})")
        if operator == "in" and spec.kind != ops.TEXT:
            q = NOTHING
            for item in value:
                q |= family(self, field, spec, "is", item)
            return q
        return family(self, field, spec, operator, value)

    def _text_q(self, field: str, spec: AttributeSpec, operator: str, value: Any) -> Q:
        if operator == "in":
            # One `UPPER(col) IN (UPPER(a), UPPER(b))`, the same comparison as OR-ing `is` (both
            # sides upper-cased by PostgreSQL, not Python), but one index scan of profile_rule_u*.
            upper = Upper(text_expression(field))
            return Q(In(upper, [Upper(Value(str(item))) for item in value]))
        return Q(**{f"{field}__{pick(_TEXT_LOOKUP, operator, spec.label)}": value})

    def _number_q(self, field: str, spec: AttributeSpec, operator: str, value: Any) -> Q:
        return Q(**{f"{field}__{pick(_NUMBER_LOOKUP, operator, spec.label)}": value})

    def _exact_q(self, field: str, spec: AttributeSpec, operator: str, value: Any) -> Q:
        # Choices are normalised to the exact choice by the validator.
        return Q(**{f"{field}__{pick(_EXACT_LOOKUP, operator, spec.label)}": value})

    def _date_q(self, field: str, spec: AttributeSpec, operator: str, value: Any) -> Q:
        is_custom = field.startswith(_JSON_KEYS)
        if operator in _DATE_LOOKUP:
            if spec.kind == ops.DATE:
                bound = value if is_custom else dt.date.fromisoformat(value)
            else:
                bound = value if is_custom else parse_datetime(value.replace("Z", "+00:00"))
            return Q(**{f"{field}__{_DATE_LOOKUP[operator]}": bound})
        first, last, _ = relative_range(operator, value, self.today)
        q = Q()
        if spec.kind == ops.DATE:
            fmt = (lambda d: d.isoformat()) if is_custom else (lambda d: d)
            if first is not None:
                q &= Q(**{f"{field}__gte": fmt(first)})
            if last is not None:
                q &= Q(**{f"{field}__lte": fmt(last)})
            return q

        # Date-times: the date part in the account's time zone, as a half-open range of moments.
        def moment(day: dt.date) -> Any:
            start = dt.datetime.combine(day, dt.time(), tzinfo=self.account.tz).astimezone(dt.UTC)
            return start.isoformat().replace("+00:00", "Z") if is_custom else start

        if first is not None:
            q &= Q(**{f"{field}__gte": moment(first)})
        if last is not None:
            q &= Q(**{f"{field}__lt": moment(last + dt.timedelta(days=1))})
        return q

    _FAMILIES = {
        ops.TEXT: _text_q,
        ops.INTEGER: _number_q,
        ops.DECIMAL: _number_q,
        ops.BOOLEAN: _exact_q,
        ops.CHOICE: _exact_q,
        ops.DATE: _date_q,
        ops.DATETIME: _date_q,
    }

    # -- special keys -----------------------------------------------------------------------
    def _contacts(self, kind: str) -> QuerySet:
        return Contact.objects.filter(account=self.account, kind=kind).annotate(
            reversed_value=Reverse("value")
        )

    def contact_matches(self, spec: AttributeSpec, operator: str, value: Any) -> tuple[QuerySet, bool]:
        """A phone/email condition as (the distinct profile ids of the contacts its positive part
        matches, whether the condition is their complement) — for counting the condition alone
        without joining the profiles (a contact's account is always its profile's)."""
        negated = operator in ops.NEGATIONS
        positive = ops.NEGATIONS.get(operator, operator)
        rows = self._contacts(spec.key)
        if positive == "is_empty":  # empty = has no contact of the kind: the complement of "has one"
            negated = not negated
        else:
            rows = rows.filter(self._contact_q(positive, value))
        return rows.order_by().values("profile_id").distinct(), negated

    def _subquery_q(self, rows: QuerySet, field: str, spec: AttributeSpec, operator: str, value: Any) -> Q:
        if operator == "is_empty":
            return ~exists(rows)
        return exists(rows.filter(self._contact_q(operator, value)))

    def _contact_q(self, operator: str, value: Any) -> Q:
        """Contacts are stored normalised (emails lower-case, phones E.164 with no letters), so a
        lower-cased needle with case-sensitive lookups is case-insensitive and can use the
        contact_rule_value / contact_rule_reverse indexes (segments migration 0002)."""
        if operator == "in":
            return Q(value__in=[str(v).strip().lower() for v in value])
        needle = str(value).strip().lower()
        lookup = pick(_CONTACT_LOOKUP, operator, "a phone or an email")
        if lookup == "endswith":  # read backwards, through the contact_rule_reverse index
            return Q(reversed_value__startswith=needle[::-1])
        return Q(**{f"value__{lookup}": needle})

    def _tags_q(self, operator: str, value: Any) -> Q:
        from tags import selectors as tag_selectors

        if operator == "is_empty":
            return ~exists(tag_selectors.profile_tag_links(account=self.account))
        if operator != "in":
            pick(_EXACT_LOOKUP, operator, "tags")
        names = value if operator == "in" else [value]
        return exists(tag_selectors.profile_tag_links(account=self.account, names=names))

    def _company_q(self, spec: AttributeSpec, operator: str, value: Any) -> Q:
        from audience.models import Company

        if operator == "is_empty":
            return Q(company__isnull=True)
        companies = Company.objects.filter(self._value_q("name", spec, operator, value), account=self.account)
        return Q(company__in=companies.values("pk")) & Q(company__isnull=False)

    def _dnc_q(self, operator: str, channel: str) -> Q:
        from dnc import selectors as dnc_selectors

        pick(_EXACT_LOOKUP, operator, "Do Not Contact")
        # One EXISTS per part, OR-ed: PostgreSQL hashes each part's profile ids once (a few ms
        # when the account has few entries) and the complement stays an exact NOT.
        q = NOTHING
        for part in dnc_selectors.profiles_blocked_parts(account=self.account, channel=channel):
            # `id IN (part)` under a count's work_mem: a hashed subplan built once (or a semi-join),
            # where an EXISTS under OR next to a misestimated event clause became two index probes
            # per profile (10 s at 1M profiles, docs/benchmarks/counts-generated.md).
            q |= Q(pk__in=part.order_by()) if self.hashed_sets else exists(part)
        return q

    # -- events -----------------------------------------------------------------------------
    def event_q(self, clause: dict) -> Q:
        matches, negated = self.event_matches(clause)
        return complement(matches.q) if negated else matches.q

    def event_matches(self, clause: dict) -> tuple[EventMatches, bool]:
        """The clause as (its positive part, whether the clause is that part's complement).
        Comparisons that admit zero (`lt 3`, `equals 0`) and `performed: false` are complements,
        so profiles with no event at all are included."""
        occurrence = clause.get("occurrence") or {"operator": "gte", "count": 1}
        operator, count = occurrence["operator"], occurrence["count"]
        occurrences = {
            "gte": ("gte", count, False),
            "gt": ("gte", count + 1, False),
            "lt": ("gte", count, True),
            "lte": ("gte", count + 1, True),
            "equals": ("exact", count, False) if count else ("gte", 1, True),
        }
        lookup, n, negated = pick(occurrences, operator, "an occurrence")
        if lookup == "gte" and n <= 0:
            matches = EventMatches(EVERYTHING, rows=Profile.objects.filter(account=self.account))
        else:
            matches = self._summary_matches(clause, lookup, n) or self._event_matches(clause, lookup, n)
        return matches, negated != (not clause.get("performed", True))

    def _summary_matches(self, clause: dict, lookup: str, n: int) -> EventMatches | None:
        """From EventSummary (one row per profile and event name) where it holds the answer:
        at any time, every count; in a window open at one end, "performed at all" — events after
        T exist exactly when the last one is after T, before T exactly when the first one is.
        None when the clause needs the events themselves: property filters, a closed window, a
        count of 2 or more inside a window."""
        if clause.get("properties"):
            return None
        (lower_lookup, lower), (upper_lookup, upper) = self._time_bounds(clause["time"])
        if lower is None and upper is None:
            test = Q(**{f"count__{lookup}": n})
        elif (lookup, n) != ("gte", 1) or (lower is not None and upper is not None):
            return None
        elif lower is not None:
            test = Q(**{f"last_at__{lower_lookup}": lower})
        else:
            test = Q(**{f"first_at__{upper_lookup}": upper})
        rows = EventSummary.objects.filter(account=self.account, name=clause["event"]).filter(test)
        return EventMatches(exists(rows), rows=rows)

    def _event_matches(self, clause: dict, lookup: str, n: int) -> EventMatches:
        """Profiles whose matching events number `>= n` or `== n`, grouped over the events."""
        events = self._events(clause)
        if (lookup, n) == ("gte", 1):
            return EventMatches(exists(events), rows=events.values("profile_id").distinct())
        grouped = events.values("profile_id").annotate(n=Count("*")).filter(**{f"n__{lookup}": n})
        self.grouped_events = True
        if self.correlated_counts:
            # Never NULL (no events = 0), so `~` of it is its exact complement.
            per_profile = Coalesce(
                Subquery(
                    events.filter(profile_id=OuterRef("pk"))
                    .values("profile_id")
                    .annotate(n=Count("*"))
                    .values("n")
                ),
                0,
            )
            test = GreaterThanOrEqual(per_profile, n) if lookup == "gte" else Exact(per_profile, n)
            return EventMatches(Q(test), rows=grouped)
        return EventMatches(Q(pk__in=grouped.values("profile_id")), rows=grouped)

    def _events(self, clause: dict) -> QuerySet:
        events = Event.objects.filter(account=self.account, name=clause["event"]).filter(
            self._time_q(clause["time"])
        )
        prop_spec = {
            name: type_ for name, type_ in (self.catalog.event(clause["event"]).properties or {}).items()
        }
        for prop in clause.get("properties") or []:
            type_ = prop_spec.get(prop["property"], ops.TEXT)
            spec = AttributeSpec(prop["property"], prop["property"], type_, source="custom")
            field = f"properties__{prop['property']}"
            operator = prop["operator"]
            if operator in ops.NEGATIONS:
                positive = self._field_q(
                    field, spec, ops.NEGATIONS[operator], prop.get("value"), nullable=True
                )
                events = events.filter(complement(positive))
            else:
                events = events.filter(self._field_q(field, spec, operator, prop.get("value"), nullable=True))
        return events.order_by()

    def _time_q(self, time: dict) -> Q:
        (lower_lookup, lower), (upper_lookup, upper) = self._time_bounds(time)
        q = Q()
        if lower is not None:
            q &= Q(**{f"occurred_at__{lower_lookup}": lower})
        if upper is not None:
            q &= Q(**{f"occurred_at__{upper_lookup}": upper})
        return q

    def _time_bounds(self, time: dict) -> tuple[event_time.Bound, event_time.Bound]:
        """An event time window as (lookup, lower bound), (lookup, upper bound); None is open."""
        return event_time.window(time["operator"]).bounds(time, self.now)
