"""Checking a rule against the language and the account's vocabulary.

`rule_normalize(rule, catalog)` returns the rule with every value in its stored form (dates as
"YYYY-MM-DD", date-times as ISO 8601 UTC, numbers as numbers, attribute and event names as
defined) together with a list of errors, each naming its path:
`attributes.conditions[3].value: expected a date`.

A date-time with an offset (`+01:00`, `Z`) is that moment; one without is a wall time in the
account's time zone — what a marketer typed in the editor means what the profile form means — or
in `zone` when the caller says so (the API reads its offset-less values as UTC, docs/api.md). A
normalised rule holds UTC moments only, so a saved rule means the same moment whatever happens to
the account's time zone later.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError

from audience.attributes import TYPE_EXPECTATION, attribute_datetime_in_zone, attribute_value_parse
from audience.models import AttributeType
from audience.text import text_unstorable_paths
from segments.rules import event_time
from segments.rules import operators as ops
from segments.rules.catalog import Catalog

_ATTRIBUTE_TYPES = set(AttributeType.values)


class RuleErrors(ValidationError):
    """A ValidationError whose messages are the path-named errors of a rule."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__(errors)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Checker:
    def __init__(self, catalog: Catalog, zone: dt.tzinfo, offsets_in: dt.tzinfo | None):
        self.catalog = catalog
        self.zone = zone
        self.offsets_in = offsets_in
        self.errors: list[str] = []
        self.conditions = 0

    def moment(self, raw: Any) -> str:
        """A date-time value as stored ("…Z"), or with the offset of `offsets_in` for the editor;
        ValidationError when it is not one."""
        stored = attribute_value_parse(AttributeType.DATETIME, raw, zone=self.zone)
        return stored if self.offsets_in is None else attribute_datetime_in_zone(stored, self.offsets_in)

    def fail(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    # -- attributes -------------------------------------------------------------------------
    def group(self, node: Any, path: str, depth: int) -> dict | None:
        if not isinstance(node, dict):
            self.fail(path, "expected a group with match and conditions")
            return None
        match = node.get("match", "all")
        if match not in ops.MATCHES:
            self.fail(f"{path}.match", "expected all or any")
        conditions = node.get("conditions", [])
        if not isinstance(conditions, list):
            self.fail(f"{path}.conditions", "expected a list")
            return None
        out = []
        for index, child in enumerate(conditions):
            child_path = f"{path}.conditions[{index}]"
            if isinstance(child, dict) and "conditions" in child:
                if depth >= ops.MAX_DEPTH:
                    self.fail(child_path, f"groups nest at most {ops.MAX_DEPTH} levels")
                    continue
                checked = self.group(child, child_path, depth + 1)
            else:
                checked = self.condition(child, child_path)
            if checked is not None:
                out.append(checked)
        return {"match": match, "conditions": out}

    def condition(self, node: Any, path: str) -> dict | None:
        self.conditions += 1
        if self.conditions == ops.MAX_CONDITIONS + 1:
            self.fail(path, f"a rule has at most {ops.MAX_CONDITIONS} attribute conditions")
        if not isinstance(node, dict):
            self.fail(path, "expected a condition with attribute, operator and value")
            return None
        key = node.get("attribute")
        spec = self.catalog.attribute(key) if isinstance(key, str) else None
        if spec is None:
            self.fail(f"{path}.attribute", f"unknown attribute {key!r}")
            return None
        operator = node.get("operator")
        table = ops.operators_for(spec.kind)
        if operator not in table:
            self.fail(
                f"{path}.operator",
                f"{operator!r} is not an operator for {spec.label} (use one of: {', '.join(table)})",
            )
            return None
        value = self.value(spec, table[operator], node.get("value"), f"{path}.value")
        out = {"attribute": spec.key, "operator": operator}
        if table[operator] != ops.NONE:
            out["value"] = value
        return out

    def value(self, spec, shape: str, raw: Any, path: str) -> Any:
        if shape == ops.NONE:
            return None
        if shape == ops.RELATIVE:
            return self.relative(raw, path, ops.RELATIVE_UNITS)
        if shape == ops.LIST:
            if not isinstance(raw, list) or not raw:
                self.fail(path, "expected a non-empty list of values")
                return []
            if len(raw) > ops.MAX_LIST:
                self.fail(path, f"a list holds at most {ops.MAX_LIST} values")
            return [self.scalar(spec, item, f"{path}[{i}]") for i, item in enumerate(raw)]
        if isinstance(raw, list):
            self.fail(path, "expected one value, not a list")
            return None
        return self.scalar(spec, raw, path)

    def scalar(self, spec, raw: Any, path: str) -> Any:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            self.fail(path, "expected a value (use is_empty for an empty value)")
            return None
        if spec.choices:
            values = {str(v).lower(): v for v, _ in spec.choices}
            if str(raw).lower() not in values:
                self.fail(path, f"expected one of: {', '.join(values.values())}")
                return None
            return values[str(raw).lower()]
        type_ = spec.kind if spec.kind in _ATTRIBUTE_TYPES else AttributeType.TEXT
        if type_ in (AttributeType.DATE, AttributeType.DATETIME) and not isinstance(raw, str):
            self.fail(path, f"expected {TYPE_EXPECTATION[type_]}")
            return None
        try:
            return self.moment(raw) if type_ == AttributeType.DATETIME else attribute_value_parse(type_, raw)
        except ValidationError:
            self.fail(path, f"expected {TYPE_EXPECTATION[type_]}")
            return None

    def relative(self, raw: Any, path: str, units: tuple[str, ...]) -> dict | None:
        if not isinstance(raw, dict):
            self.fail(path, f'expected {{"amount": N, "unit": "{"|".join(units)}"}}')
            return None
        amount, unit = raw.get("amount"), raw.get("unit")
        if not _is_int(amount) or not 0 <= amount <= ops.MAX_AMOUNT:
            self.fail(f"{path}.amount", f"expected a whole number from 0 to {ops.MAX_AMOUNT}")
        if unit not in units:
            self.fail(f"{path}.unit", f"expected one of: {', '.join(units)}")
        return {"amount": amount, "unit": unit}

    # -- events -----------------------------------------------------------------------------
    def event(self, node: Any, path: str) -> dict | None:
        if not isinstance(node, dict):
            self.fail(path, "expected an event clause")
            return None
        definition = self.catalog.event(node.get("event", ""))
        if definition is None:
            self.fail(f"{path}.event", f"unknown event {node.get('event')!r}")
            return None
        performed = node.get("performed", True)
        if not isinstance(performed, bool):
            self.fail(f"{path}.performed", "expected true or false")
        out: dict[str, Any] = {"event": definition.name, "performed": performed}
        occurrence = node.get("occurrence") or {"operator": "gte", "count": 1}
        if not isinstance(occurrence, dict) or occurrence.get("operator") not in ops.OCCURRENCE_OPERATORS:
            self.fail(
                f"{path}.occurrence.operator", f"expected one of: {', '.join(ops.OCCURRENCE_OPERATORS)}"
            )
        elif not _is_int(occurrence.get("count")) or not 0 <= occurrence["count"] <= 1_000_000:
            self.fail(f"{path}.occurrence.count", "expected a whole number of times, 0 or more")
        else:
            out["occurrence"] = {"operator": occurrence["operator"], "count": occurrence["count"]}
        out["time"] = self.event_time(node.get("time") or {"operator": "any_time"}, f"{path}.time")
        properties = node.get("properties") or []
        if not isinstance(properties, list):
            self.fail(f"{path}.properties", "expected a list")
            properties = []
        types = {name.lower(): (name, type_) for name, type_ in (definition.properties or {}).items()}
        out["properties"] = []
        for index, prop in enumerate(properties):
            checked = self.event_property(prop, f"{path}.properties[{index}]", types, definition.name)
            if checked is not None:
                out["properties"].append(checked)
        return out

    def event_time(self, node: Any, path: str) -> dict | None:
        operator = node.get("operator") if isinstance(node, dict) else None
        if operator not in event_time.WINDOWS:
            self.fail(f"{path}.operator", f"expected one of: {', '.join(ops.EVENT_TIME_OPERATORS)}")
            return None
        shape = event_time.WINDOWS[operator].shape
        if shape == event_time.NONE:
            return {"operator": operator}
        if shape == event_time.AGO:
            return {"operator": operator, **(self.relative(node, path, ops.EVENT_TIME_UNITS) or {})}
        if shape == event_time.AGO_RANGE:
            start, end = node.get("from"), node.get("to")
            if not _is_int(start) or not _is_int(end) or not 0 <= start < end <= ops.MAX_AMOUNT:
                self.fail(path, "expected whole numbers from < to (both ago)")
            if node.get("unit") not in ops.EVENT_TIME_UNITS:
                self.fail(f"{path}.unit", f"expected one of: {', '.join(ops.EVENT_TIME_UNITS)}")
            return {"operator": operator, "from": start, "to": end, "unit": node.get("unit")}
        fields = ("start", "end") if shape == event_time.MOMENTS else ("value",)
        out = {"operator": operator}
        stored: dict[str, str | None] = {}
        for name in fields:
            raw = node.get(name)
            try:
                stored[name] = (
                    attribute_value_parse(AttributeType.DATETIME, raw, zone=self.zone)
                    if isinstance(raw, str) and raw
                    else None
                )
                out[name] = self.moment(stored[name]) if stored[name] else None
            except ValidationError:
                stored[name] = out[name] = None
            if out[name] is None:
                self.fail(f"{path}.{name}", "expected a date and time (YYYY-MM-DDTHH:MM)")
        start, end = stored.get("start"), stored.get("end")
        if shape == event_time.MOMENTS and start and end and start > end:  # both UTC "…Z"
            self.fail(f"{path}.end", "expected an end after the start")
        return out

    def event_property(self, node: Any, path: str, types: dict, event: str) -> dict | None:
        from segments.rules.operators import AttributeSpec

        if not isinstance(node, dict):
            self.fail(path, "expected a property condition")
            return None
        found = types.get(str(node.get("property", "")).lower())
        if found is None:
            self.fail(f"{path}.property", f"{event} has no property {node.get('property')!r}")
            return None
        name, type_ = found
        spec = AttributeSpec(name, name, type_ if type_ in _ATTRIBUTE_TYPES else ops.TEXT, source="property")
        table = ops.operators_for(spec.kind)
        operator = node.get("operator")
        if operator not in table:
            self.fail(
                f"{path}.operator",
                f"{operator!r} is not an operator for {name} (use one of: {', '.join(table)})",
            )
            return None
        out = {"property": name, "operator": operator}
        if table[operator] != ops.NONE:
            out["value"] = self.value(spec, table[operator], node.get("value"), f"{path}.value")
        return out


def rule_normalize(
    rule: Any, catalog: Catalog, *, zone: dt.tzinfo | None = None, offsets_in: dt.tzinfo | None = None
) -> tuple[dict, list[str]]:
    """The rule in its stored form and its errors. Date-times without an offset are read in
    `zone`, by default the account's time zone; with `offsets_in` (the editor's view of a rule)
    date-times come out with that zone's offset instead of "Z": the same moments, shown as the
    account's wall time."""
    checker = _Checker(catalog, zone or catalog.account.tz, offsets_in)
    if rule is None:
        rule = {}
    if not isinstance(rule, dict):
        return {}, ["rule: expected an object with version, attributes and events"]
    # Text PostgreSQL can't store (a JSON `\u0000`), anywhere in the rule: refused by path.
    unstorable = text_unstorable_paths(rule)
    if unstorable:
        return {}, [f"{path}: {reason}" for path, reason in unstorable]
    version = rule.get("version", 1)
    if version != 1:
        checker.fail("version", "expected 1")
    unknown = set(rule) - {"version", "attributes", "events"}
    for key in sorted(unknown):
        checker.fail(key, "unknown part of a rule")
    out: dict[str, Any] = {"version": 1}
    if rule.get("attributes") is not None:
        out["attributes"] = checker.group(rule["attributes"], "attributes", 1)
    events = rule.get("events") or []
    if not isinstance(events, list):
        checker.fail("events", "expected a list of event clauses")
        events = []
    if len(events) > ops.MAX_EVENT_CLAUSES:
        checker.fail("events", f"a rule has at most {ops.MAX_EVENT_CLAUSES} event clauses")
    out["events"] = [c for i, e in enumerate(events) if (c := checker.event(e, f"events[{i}]")) is not None]
    return out, checker.errors
