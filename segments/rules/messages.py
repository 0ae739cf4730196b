"""A rule's errors in the words of the screen. The validator (and the API) name errors by path
(`attributes.conditions[0].value: expected a value (use is_empty for an empty value)`); the editor
shows the same error next to its field as a marketer reads it ("Enter a city, or choose “is
empty”."), with where it is ("Condition 1") for the list above the form."""

from __future__ import annotations

import re
from typing import Any

from segments.rules import operators as ops
from segments.rules.catalog import Catalog
from segments.rules.operators import AttributeSpec

_TOKEN = re.compile(r"([A-Za-z_]+)|\[(\d+)\]")
_NOUNS = {
    "external_id": "an external ID",
    "tags": "a tag name",
    "phone": "a phone number",
    "email": "an email address",
    "company": "a company name",
    "created_at": "a date and time",
    "modified_at": "a date and time",
    "dnc": "a channel",
}


def _steps(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _TOKEN.findall(path)]


def _walk(rule: Any, steps: list[str | int]) -> list[Any]:
    """The nodes along `steps` from the rule (None where the rule has no such node)."""
    nodes, node = [], rule
    for step in steps:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            node = None
        nodes.append(node)
    return nodes


def _noun(spec: AttributeSpec | None, fallback: str) -> str:
    if spec is None:
        return f"a value for “{fallback}”"
    if spec.key in _NOUNS:
        return _NOUNS[spec.key]
    if spec.source in ("custom", "property"):
        return f"a value for “{spec.label}”"
    label = spec.label.lower()
    return f"{'an' if label[:1] in 'aeiou' else 'a'} {label}"


def _where(steps: list[str | int]) -> str:
    """ "Condition 2", "Condition 2.1" (in a group), "Event 1", "Event 1, property 2"."""
    numbers = [
        s + 1
        for s, before in zip(steps[1:], steps, strict=False)
        if isinstance(s, int) and before == "conditions"
    ]
    if steps and steps[0] == "attributes" and numbers:
        return "Condition " + ".".join(str(n) for n in numbers)
    if steps and steps[0] == "events" and len(steps) > 1 and isinstance(steps[1], int):
        where = f"Event {steps[1] + 1}"
        if len(steps) > 3 and steps[2] == "properties" and isinstance(steps[3], int):
            where += f", property {steps[3] + 1}"
        return where
    return ""


def _words(message: str, steps: list[str | int], node: dict | None, spec: AttributeSpec | None) -> str:
    field = next((s for s in reversed(steps) if isinstance(s, str)), "")
    in_list = bool(steps) and isinstance(steps[-1], int) and field == "value"
    name = (node or {}).get("attribute") or (node or {}).get("property") or ""
    noun = _noun(spec, str(name))
    empty_operator = spec is None or "is_empty" in ops.operators_for(spec.kind)
    choose = spec is not None and (bool(spec.choices) or spec.kind == ops.BOOLEAN)
    verb = "Choose" if choose else "Enter"
    if message.startswith("expected a value"):
        if in_list:
            return f"{verb} {noun} in every box, or remove the empty one."
        return f"{verb} {noun}, or choose “is empty”." if empty_operator else f"{verb} {noun}."
    if message == "expected a non-empty list of values":
        return f"{verb} at least one {noun.split(' ', 1)[1]}."
    if message.startswith("expected one of:") and field == "value":
        return f"Choose {noun} from the list."
    if message.startswith("expected one of:") and field == "unit":
        return f"Choose one of: {message.split(': ', 1)[1]}."
    if message.startswith("expected one of:"):
        return f"Choose one of: {message.split(': ', 1)[1]}."
    if field == "value" and message.startswith("expected "):
        what = message[len("expected ") :]
        return f"Enter {what} for {spec.label if spec else name}."
    if message.startswith("unknown attribute"):
        return "Choose an attribute from the list: this one is not in the account."
    if "is not an operator for" in message:
        return f"Choose an operator for {spec.label if spec else name}."
    if field == "amount":
        return f"Enter how many, as a whole number from 0 to {ops.MAX_AMOUNT:,}."
    if message.startswith('expected {"amount"'):
        return "Enter how many days, weeks or months."
    if message.startswith("a rule has at most") and "attribute conditions" in message:
        return f"A segment holds at most {ops.MAX_CONDITIONS} conditions: remove one."
    if message.startswith("groups nest at most"):
        return f"Groups go at most {ops.MAX_DEPTH} levels deep: move this group up a level."
    if message.startswith("a rule has at most") and "event clauses" in message:
        return f"A segment holds at most {ops.MAX_EVENT_CLAUSES} event conditions: remove one."
    if message.startswith("unknown event"):
        return "Choose an event from the list: this one is not defined in the account."
    if " has no property " in message:
        return "Choose a property from the list."
    if field == "count":
        return "Enter how many times, as a whole number (0 or more)."
    if message.startswith("expected a date and time"):
        return "Enter a date and time."
    if message.startswith("expected whole numbers from < to"):
        return "Enter “from” and “to” as whole numbers, “from” the smaller."
    if message == "expected an end after the start":
        return "Enter an end after the start."
    if message == "the rule is not valid JSON":
        return "The rules are not valid JSON: reload the page and try again."
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def rule_error_words(rule: Any, errors: list[str], catalog: Catalog) -> list[dict]:
    """Each path-named error as {"path", "where", "message"} in the screen's words."""
    out = []
    for error in errors:
        path, _, message = error.partition(": ")
        steps = _steps(path)
        nodes = _walk(rule, steps)
        # The condition or property the error is about: the nearest node naming one.
        node = next(
            (n for n in reversed(nodes) if isinstance(n, dict) and ("attribute" in n or "property" in n)),
            None,
        )
        spec = None
        if node is not None and isinstance(node.get("attribute"), str):
            spec = catalog.attribute(node["attribute"])
        elif node is not None and isinstance(node.get("property"), str):
            kind = _property_kind(rule, steps, node["property"], catalog)
            spec = AttributeSpec(node["property"], node["property"], kind, source="property")
        out.append({"path": path, "where": _where(steps), "message": _words(message, steps, node, spec)})
    return out


def _property_kind(rule: Any, steps: list[str | int], name: str, catalog: Catalog) -> str:
    clause = _walk(rule, steps[:2])[-1] if len(steps) >= 2 else None
    definition = catalog.event(clause.get("event", "")) if isinstance(clause, dict) else None
    kind = ((definition.properties or {}) if definition else {}).get(name, ops.TEXT)
    return kind if kind in ops.OPERATORS else ops.TEXT
