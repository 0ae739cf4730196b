"""Rules drawn at random from the whole rule language, for the counts benchmark and the
differential test (tests/segments/test_generated_rules.py).

`RuleGenerator(vocabulary, seed).rule()` gives one rule: attribute conditions on every attribute
the account's catalog offers (standard columns, custom attributes of each type, phone, email,
company, tags, Do Not Contact) with every operator their kind takes, groups nested up to the
language's depth, and 0–5 event clauses with occurrences, time windows and property conditions.
Values come from a `Vocabulary` sampled from the account's own rows (so a rule selects some
profiles, not none), cut into prefixes, suffixes and fragments, with a few that match nothing.
The same seed and vocabulary give the same rules.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from dataclasses import dataclass, field
from typing import Any

from audience.models import Account, Contact, Event, Profile
from segments.rules import event_time
from segments.rules import operators as ops
from segments.rules.catalog import Catalog
from segments.rules.operators import AttributeSpec

SAMPLE = 2000
TEXT_COLUMNS = (
    "first_name",
    "middle_name",
    "last_name",
    "external_id",
    "city",
    "country",
    "address",
    "preferred_language",
)


@dataclass
class Vocabulary:
    """Values seen in an account: {attribute key: [values]}, {(event, property): [values]}, the
    attribute specs and event definitions of its catalog, and the account's `now`."""

    attributes: list[AttributeSpec]
    events: dict[str, dict[str, str]]  # event name -> {property: type}
    values: dict[str, list[Any]] = field(default_factory=dict)
    properties: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @classmethod
    def from_account(cls, account: Account, *, now: dt.datetime | None = None, sample: int = SAMPLE):
        from audience.models import Company
        from tags.models import Tag

        catalog = Catalog(account)
        vocab = cls(
            attributes=catalog.attributes(),
            events={d.name: dict(d.properties or {}) for d in catalog.events.values()},
            now=now or dt.datetime.now(dt.UTC),
        )
        # A spread of the account's profiles: every n-th id (no ORDER BY random() over millions).
        ids = Profile.objects.filter(account=account).order_by("pk").values_list("pk", flat=True)
        first, last = ids.first() or 0, ids.last() or 0
        wanted = list(range(first, last + 1, max(1, (last - first) // sample)))
        rows = Profile.objects.filter(account=account, pk__in=wanted).values(
            *TEXT_COLUMNS, "birth_date", "created_at", "attributes"
        )[:sample]
        for row in rows:
            for key in TEXT_COLUMNS:
                if row[key]:
                    vocab.values.setdefault(key, []).append(row[key])
            if row["birth_date"]:
                vocab.values.setdefault("birth_date", []).append(row["birth_date"].isoformat())
            vocab.values.setdefault("created_at", []).append(row["created_at"])
            for name, value in (row["attributes"] or {}).items():
                if value is not None:
                    vocab.values.setdefault(f"custom.{name}", []).append(value)
        for kind in ("phone", "email"):
            vocab.values[kind] = list(
                Contact.objects.filter(account=account, kind=kind, profile_id__in=wanted).values_list(
                    "value", flat=True
                )[:sample]
            )
        vocab.values["company"] = list(
            Company.objects.filter(account=account).values_list("name", flat=True)[:200]
        )
        vocab.values["tags"] = list(Tag.objects.filter(account=account).values_list("name", flat=True)[:200])
        for name, props in vocab.events.items():
            if not props:
                continue
            events = Event.objects.filter(account=account, name=name, profile_id__in=wanted)
            for properties in events.values_list("properties", flat=True)[:500]:
                for prop, value in (properties or {}).items():
                    if value is not None:
                        vocab.properties.setdefault((name, prop), []).append(value)
        return vocab


def _junk(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 6))) + "qx"


def _case(rng: random.Random, text: str) -> str:
    """The text as a marketer might type it: as stored, or its ASCII letters up- or down-cased
    (only ASCII: case rules beyond it differ between databases and are not what is tested)."""
    pick = rng.random()
    if pick < 0.5:
        return text
    table = str.maketrans(
        string.ascii_lowercase + string.ascii_uppercase,
        (string.ascii_uppercase * 2) if pick < 0.75 else (string.ascii_lowercase * 2),
    )
    return text.translate(table)


class RuleGenerator:
    def __init__(self, vocabulary: Vocabulary, seed: int):
        self.vocab = vocabulary
        self.rng = random.Random(seed)
        self.attributes = [a for a in vocabulary.attributes if a.kind in ops.OPERATORS]

    # -- the whole rule -----------------------------------------------------------------------
    def rules(self, n: int) -> list[dict]:
        return [self.rule() for _ in range(n)]

    def rule(self) -> dict:
        rng = self.rng
        rule: dict[str, Any] = {"version": 1}
        clauses = rng.choices(range(6), weights=(35, 30, 15, 10, 5, 5))[0]
        if clauses == 0 or rng.random() < 0.8:
            self.budget = rng.choice((1, 1, 1, 2, 2, 3, 4, 6, 10))
            rule["attributes"] = self.group(depth=1)
        rule["events"] = [self.event_clause() for _ in range(clauses)] if self.vocab.events else []
        return rule

    def group(self, depth: int) -> dict:
        rng = self.rng
        conditions: list[dict] = []
        while self.budget > 0 and (not conditions or rng.random() < 0.7):
            if depth < ops.MAX_DEPTH and rng.random() < 0.2 and self.budget >= 2:
                conditions.append(self.group(depth + 1))
            else:
                self.budget -= 1
                conditions.append(self.condition())
        return {"match": rng.choice(("all", "all", "any")), "conditions": conditions}

    # -- one attribute condition --------------------------------------------------------------
    def condition(self) -> dict:
        spec = self.rng.choice(self.attributes)
        operator = self.rng.choice(list(ops.OPERATORS[spec.kind]))
        shape = ops.OPERATORS[spec.kind][operator]
        out = {"attribute": spec.key, "operator": operator}
        value = self.value(spec.kind, shape, operator, self.vocab.values.get(spec.key) or [], spec)
        if shape != ops.NONE:
            out["value"] = value
        return out

    def value(
        self, kind: str, shape: str, operator: str, seen: list, spec: AttributeSpec | None = None
    ) -> Any:
        rng = self.rng
        if shape == ops.NONE:
            return None
        if shape == ops.RELATIVE:
            return {
                "amount": rng.choice((0, 1, 3, 7, 14, 30, 90, 365)),
                "unit": rng.choice(ops.RELATIVE_UNITS),
            }
        if shape == ops.LIST:
            return [self.scalar(kind, "is", seen, spec) for _ in range(rng.randint(1, 4))]
        return self.scalar(kind, operator, seen, spec)

    def scalar(self, kind: str, operator: str, seen: list, spec: AttributeSpec | None) -> Any:
        rng = self.rng
        if spec is not None and spec.choices:
            return rng.choice(spec.choices)[0]
        if kind == ops.TAGS:
            return rng.choice(seen) if seen and rng.random() < 0.85 else _junk(rng)
        if kind == ops.BOOLEAN:
            return rng.random() < 0.5
        if kind in (ops.INTEGER, ops.DECIMAL):
            numbers = [v for v in seen if isinstance(v, int | float) and not isinstance(v, bool)]
            number = rng.choice(numbers) if numbers and rng.random() < 0.9 else rng.randint(0, 1000)
            if kind == ops.INTEGER:
                return int(number)
            return number if rng.random() < 0.7 else round(float(number) + rng.choice((-0.5, 0.25, 1)), 2)
        if kind == ops.DATE:
            dates = [v for v in seen if isinstance(v, str)]
            if dates and rng.random() < 0.8:
                return rng.choice(dates)[:10]
            return (self.vocab.now.date() + dt.timedelta(days=rng.randint(-20000, 400))).isoformat()
        if kind == ops.DATETIME:
            moments = [v if isinstance(v, str) else v.isoformat() for v in seen]
            if moments and rng.random() < 0.7:
                moment = rng.choice(moments)
                if rng.random() < 0.5:
                    return moment[:10] + "T00:00:00Z"
                return moment
            day = self.vocab.now - dt.timedelta(days=rng.randint(-30, 800), hours=rng.randint(0, 23))
            return day.strftime("%Y-%m-%dT%H:%M:%SZ")
        # Text (columns, custom text, phone, email, company).
        texts = [str(v) for v in seen if isinstance(v, str) and v.strip()]
        if not texts or rng.random() < 0.1:
            return _junk(rng)
        text = rng.choice(texts).strip()
        if operator == "starts_with":
            text = text[: rng.randint(1, max(1, min(4, len(text))))]
        elif operator == "ends_with":
            text = text[-rng.randint(1, max(1, min(5, len(text)))) :]
        elif operator in ("contains", "not_contains"):
            start = rng.randrange(len(text))
            text = text[start : start + rng.randint(1, 3)]
        text = text.strip() or text
        if not text.strip():
            return _junk(rng)
        return _case(rng, text)

    # -- one event clause ----------------------------------------------------------------------
    def event_clause(self) -> dict:
        rng = self.rng
        name = rng.choice(sorted(self.vocab.events))
        clause: dict[str, Any] = {"event": name, "performed": rng.random() < 0.85}
        operator = rng.choices(ops.OCCURRENCE_OPERATORS, weights=(2, 2, 1, 6, 2))[0]
        clause["occurrence"] = {
            "operator": operator,
            "count": rng.choices((0, 1, 2, 3, 5), (1, 6, 3, 2, 1))[0],
        }
        clause["time"] = self.event_time()
        props = self.vocab.events[name]
        clause["properties"] = []
        for _ in range(rng.choices((0, 1, 2), (55, 35, 10))[0] if props else 0):
            prop = rng.choice(sorted(props))
            kind = props[prop] if props[prop] in ops.OPERATORS else ops.TEXT
            operator = rng.choice(list(ops.OPERATORS[kind]))
            shape = ops.OPERATORS[kind][operator]
            condition = {"property": prop, "operator": operator}
            if shape != ops.NONE:
                condition["value"] = self.value(
                    kind, shape, operator, self.vocab.properties.get((name, prop), [])
                )
            clause["properties"].append(condition)
        return clause

    def event_time(self) -> dict:
        rng = self.rng
        operator = rng.choices(event_time.OPERATORS, weights=(4, 6, 2, 2, 1, 1, 1))[0]
        shape = event_time.WINDOWS[operator].shape
        unit = rng.choices(ops.EVENT_TIME_UNITS, weights=(1, 2, 6))[0]
        amount = {"minutes": (30, 600, 5000), "hours": (1, 12, 48, 500), "days": (1, 7, 30, 60, 90)}[unit]
        if shape == event_time.NONE:
            return {"operator": operator}
        if shape == event_time.AGO:
            return {"operator": operator, "amount": rng.choice(amount), "unit": unit}
        if shape == event_time.AGO_RANGE:
            low, high = sorted(rng.sample(range(0, 100), 2))
            return {"operator": operator, "from": low, "to": high, "unit": "days"}

        def moment() -> str:
            at = self.vocab.now - dt.timedelta(days=rng.randint(0, 100), hours=rng.randint(0, 23))
            return at.strftime("%Y-%m-%dT%H:%M:%SZ")

        if shape == event_time.MOMENT:
            return {"operator": operator, "value": moment()}
        start, end = sorted((moment(), moment()))
        return {"operator": operator, "start": start, "end": end}
