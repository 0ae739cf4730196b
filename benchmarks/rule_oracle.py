"""A second evaluation of rules, in plain Python over the rows: what the rule language means,
written from docs/rules.md without the compiler, to check the SQL engine's counts against
(tests/segments/test_generated_rules.py on every generated rule; the counts benchmark on a sample
of profiles).

`Oracle(account, now=..., profile_ids=...)` loads the profiles (all of the account's, or the given
ids), their contacts, tags and events, the company names and the account's Do Not Contact entries
once; `matching(rule)` is the set of profile ids a normalised rule selects.
"""

from __future__ import annotations

import datetime as dt
import string
from collections import defaultdict
from typing import Any

from dateutil.relativedelta import relativedelta
from django.utils.dateparse import parse_datetime

from audience.models import Account, Company, Contact, Event, Profile
from segments.rules import operators as ops
from segments.rules.catalog import Catalog

_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


def up(text: Any) -> str:
    """Case folding as both databases agree on it (ASCII letters)."""
    return str(text).translate(_UPPER)


def _moment(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        return None
    parsed = parse_datetime(value.replace("Z", "+00:00"))
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _json_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


class Oracle:
    def __init__(self, account: Account, *, now: dt.datetime, profile_ids: list[int] | None = None):
        from dnc.models import DncEntryAccount
        from tags.models import ProfileTag

        self.account = account
        self.catalog = Catalog(account)
        self.now = now
        self.today = now.astimezone(account.tz).date()
        profiles = Profile.objects.filter(account=account)
        contacts = Contact.objects.filter(account=account)
        tags = ProfileTag.objects.filter(account=account)
        events = Event.objects.filter(account=account)
        if profile_ids is not None:
            profiles = profiles.filter(pk__in=profile_ids)
            contacts = contacts.filter(profile_id__in=profile_ids)
            tags = tags.filter(profile_id__in=profile_ids)
            events = events.filter(profile_id__in=profile_ids)
        self.profiles = list(profiles.values())
        self.companies = dict(Company.objects.filter(account=account).values_list("pk", "name"))
        self.contacts: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for profile_id, kind, value in contacts.values_list("profile_id", "kind", "value"):
            self.contacts[profile_id].append((kind, value))
        self.tags: dict[int, set[str]] = defaultdict(set)
        for profile_id, name in tags.values_list("profile_id", "tag__name"):
            self.tags[profile_id].add(up(name))
        self.events: dict[int, list[tuple[str, dt.datetime, dict]]] = defaultdict(list)
        for profile_id, name, at, properties in events.values_list(
            "profile_id", "name", "occurred_at", "properties"
        ):
            self.events[profile_id].append((name, at, properties or {}))
        self._blocking: dict[str, tuple[set[str], set[str]]] = {}  # channel -> (values, domains)
        self.dnc = list(
            DncEntryAccount.objects.filter(account=account).values_list("kind", "value", "channel")
        )

    # -- the whole rule -------------------------------------------------------------------------
    def matching(self, rule: dict) -> set[int]:
        return {p["id"] for p in self.profiles if self.profile_matches(p, rule)}

    def profile_matches(self, profile: dict, rule: dict) -> bool:
        if rule.get("attributes") and not self.group(profile, rule["attributes"]):
            return False
        return all(self.event_clause(profile, clause) for clause in rule.get("events") or [])

    def group(self, profile: dict, group: dict) -> bool:
        results = [
            self.group(profile, c) if "conditions" in c else self.condition(profile, c)
            for c in group["conditions"]
        ]
        if not results:
            return True
        return any(results) if group["match"] == "any" else all(results)

    # -- attribute conditions -------------------------------------------------------------------
    def condition(self, profile: dict, condition: dict) -> bool:
        spec = self.catalog.attribute(condition["attribute"])
        operator, value = condition["operator"], condition.get("value")
        if operator in ops.NEGATIONS:
            return not self.positive(profile, spec, ops.NEGATIONS[operator], value)
        return self.positive(profile, spec, operator, value)

    def positive(self, profile: dict, spec, operator: str, value: Any) -> bool:
        if spec.source == "tags":
            names = self.tags.get(profile["id"], set())
            if operator == "is_empty":
                return not names
            wanted = value if operator == "in" else [value]
            return any(up(w) in names for w in wanted)
        if spec.source == "contact":
            values = [v for kind, v in self.contacts.get(profile["id"], []) if kind == spec.key]
            if operator == "is_empty":
                return not values
            return any(self.contact_value(v, operator, value) for v in values)
        if spec.source == "dnc":
            return self.blocked(profile, value)
        if spec.source == "company":
            name = self.companies.get(profile["company_id"])
            if operator == "is_empty":
                return name is None
            return name is not None and self.text(name, operator, value)
        if spec.source == "custom":
            stored = (profile["attributes"] or {}).get(spec.label)
            if operator == "is_empty":
                return stored is None
            return stored is not None and self.typed(spec.kind, stored, operator, value, json=True)
        stored = profile[spec.key]
        if operator == "is_empty":
            if spec.kind == ops.DATETIME:
                return False
            return stored is None or stored == ""
        if stored is None:
            return False
        return self.typed(spec.kind, stored, operator, value, json=False)

    def typed(self, kind: str, stored: Any, operator: str, value: Any, *, json: bool) -> bool:
        if operator == "in" and kind != ops.TEXT:
            return any(self.typed(kind, stored, "is", item, json=json) for item in value)
        if kind == ops.TEXT:
            return self.text(_json_text(stored) if json else stored, operator, value)
        if kind in (ops.CHOICE,):
            return stored == value
        if kind == ops.BOOLEAN:
            return isinstance(stored, bool) and stored == value
        if kind in (ops.INTEGER, ops.DECIMAL):
            number = _number(stored)
            if number is None:
                return False
            return self.compare(number, operator, value)
        if kind == ops.DATE:
            day = stored if isinstance(stored, dt.date) else dt.date.fromisoformat(str(stored)[:10])
            if operator in ops.OPERATORS[ops.DATE] and ops.OPERATORS[ops.DATE][operator] == ops.RELATIVE:
                first, last = self.relative_days(operator, value)
                return (first is None or day >= first) and (last is None or day <= last)
            return self.compare(day, operator, dt.date.fromisoformat(value))
        if kind == ops.DATETIME:
            moment = _moment(stored)
            if moment is None:
                return False
            if ops.OPERATORS[ops.DATETIME][operator] == ops.RELATIVE:
                first, last = self.relative_days(operator, value)
                day = moment.astimezone(self.account.tz).date()
                return (first is None or day >= first) and (last is None or day <= last)
            return self.compare(moment, operator, _moment(value))
        raise AssertionError(f"kind {kind}")

    @staticmethod
    def compare(left: Any, operator: str, right: Any) -> bool:
        return {
            "is": left == right,
            "lt": left < right,
            "before": left < right,
            "lte": left <= right,
            "until": left <= right,
            "gte": left >= right,
            "since": left >= right,
            "gt": left > right,
            "after": left > right,
        }[operator]

    @staticmethod
    def text(stored: str, operator: str, value: Any) -> bool:
        if operator == "in":
            return any(up(stored) == up(v) for v in value)
        needle = up(value)
        return {
            "is": lambda: up(stored) == needle,
            "starts_with": lambda: up(stored).startswith(needle),
            "ends_with": lambda: up(stored).endswith(needle),
            "contains": lambda: needle in up(stored),
        }[operator]()

    @staticmethod
    def contact_value(stored: str, operator: str, value: Any) -> bool:
        if operator == "in":
            return stored in [str(v).strip().lower() for v in value]
        needle = str(value).strip().lower()
        return {
            "is": stored == needle,
            "starts_with": stored.startswith(needle),
            "ends_with": stored.endswith(needle),
            "contains": needle in stored,
        }[operator]

    def relative_days(self, operator: str, value: dict) -> tuple[dt.date | None, dt.date | None]:
        """The days (first, last; None open) a relative operator means, counted from today."""
        amount, unit = value["amount"], value["unit"]
        delta = (
            relativedelta(months=amount)
            if unit == "months"
            else relativedelta(days=amount * (7 if unit == "weeks" else 1))
        )
        ahead, back = self.today + delta, self.today - delta
        one = dt.timedelta(days=1)
        return {
            "will_be_in": (ahead, ahead),
            "will_be_within": (self.today, ahead),
            "will_be_more_than": (ahead + one, None),
            "was": (back, back),
            "was_within": (back, self.today),
            "was_more_than": (None, back - one),
        }[operator]

    def blocked(self, profile: dict, channel: str) -> bool:
        if channel not in self._blocking:
            entries = [(k, v) for k, v, c in self.dnc if channel == "any" or c in ("", channel)]
            self._blocking[channel] = ({v for _, v in entries}, {v for k, v in entries if k == "domain"})
        values, domains = self._blocking[channel]
        for kind, value in self.contacts.get(profile["id"], []):
            if value in values:
                return True
            if kind == "email" and "@" in value and value.split("@", 1)[1] in domains:
                return True
        return False

    # -- event clauses --------------------------------------------------------------------------
    def event_clause(self, profile: dict, clause: dict) -> bool:
        occurrence = clause.get("occurrence") or {"operator": "gte", "count": 1}
        count = sum(
            1
            for name, at, properties in self.events.get(profile["id"], [])
            if name == clause["event"]
            and self.in_window(at, clause["time"])
            and all(
                self.property_matches(clause["event"], properties, p) for p in clause.get("properties") or []
            )
        )
        n = occurrence["count"]
        matches = {
            "gte": count >= n,
            "gt": count > n,
            "lt": count < n,
            "lte": count <= n,
            "equals": count == n,
        }[occurrence["operator"]]
        return matches if clause.get("performed", True) else not matches

    def in_window(self, at: dt.datetime, time: dict) -> bool:
        operator = time["operator"]
        if operator == "any_time":
            return True
        if operator in ("within_last", "before_last"):
            edge = self.now - dt.timedelta(**{time["unit"]: time["amount"]})
            return at >= edge if operator == "within_last" else at < edge
        if operator == "between_last":
            early = self.now - dt.timedelta(**{time["unit"]: time["to"]})
            late = self.now - dt.timedelta(**{time["unit"]: time["from"]})
            return early <= at <= late
        if operator == "after":
            return at > _moment(time["value"])
        if operator == "before":
            return at < _moment(time["value"])
        if operator == "between":
            return _moment(time["start"]) <= at <= _moment(time["end"])
        raise AssertionError(operator)

    def property_matches(self, event: str, properties: dict, condition: dict) -> bool:
        types = dict(self.catalog.event(event).properties or {})
        kind = types.get(condition["property"], ops.TEXT)
        kind = kind if kind in ops.OPERATORS else ops.TEXT
        operator, value = condition["operator"], condition.get("value")
        negated = operator in ops.NEGATIONS
        positive = ops.NEGATIONS.get(operator, operator)
        stored = properties.get(condition["property"])
        if positive == "is_empty":
            result = stored is None
        else:
            result = stored is not None and self.typed(kind, stored, positive, value, json=True)
        return not result if negated else result
