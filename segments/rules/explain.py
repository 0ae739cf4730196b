"""Why a profile is (or is not) in a rule: each condition and event clause, held or not."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from audience.models import Profile
from segments.rules import event_time
from segments.rules import operators as ops
from segments.rules.compile import Compiler


def _describe_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return f"{value.get('amount')} {value.get('unit')}"
    return str(value)


_OCCURRENCE = {
    "equals": "exactly",
    "lt": "fewer than",
    "lte": "at most",
    "gte": "at least",
    "gt": "more than",
}
# "did not do X <op> N times" is "did X <opposite> N times" (the compiler takes the complement).
_OPPOSITE = {"gte": "lt", "gt": "lte", "lt": "gte", "lte": "gt"}

# Events whose name reads badly after "performed": (past tense, after "did not").
_EVENT_VERBS = {
    "app launch": ("opened the app", "open the app"),
}


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count:,} times")


def _window_words(time: dict) -> str:
    """The window in words, with the unit agreeing with its number ("in the last day")."""
    words = event_time.window(time["operator"]).words(time)
    amount, unit = time.get("amount"), time.get("unit")
    if amount == 1 and isinstance(unit, str) and unit.endswith("s"):
        words = words.replace(f" 1 {unit}", f" 1 {unit[:-1]}")
        words = words.replace("in the last 1 ", "in the last ")
    return words


def event_sentence(clause: dict) -> str:
    """One event clause as a person would say it: "did not open the app in the last 30 days",
    "performed Purchase at least 3 times at any time"."""
    occurrence = clause.get("occurrence") or {"operator": "gte", "count": 1}
    operator, count = occurrence["operator"], occurrence["count"]
    performed = clause.get("performed", True)
    event = clause["event"]
    done, do = _EVENT_VERBS.get(str(event).lower(), (f"performed {event}", f"perform {event}"))
    if not performed and operator in _OPPOSITE and (operator, count) != ("gte", 1):
        # "did not perform X at least 3 times" reads as "performed X fewer than 3 times"
        operator, performed = _OPPOSITE[operator], True
    if (operator, count) == ("gt", 0):
        operator, count = "gte", 1
    never = (operator, count) in (("equals", 0), ("lt", 1), ("lte", 0))
    if (operator, count) == ("gte", 1) or (performed and never):
        verb, how_often = (done if performed and not never else f"did not {do}"), ""
    else:
        verb = done if performed else f"did not {do}"
        how_often = f" {_OCCURRENCE[operator]} {_times(count)}"
    return f"{verb}{how_often} {_window_words(clause['time'])}"


def explain(compiler: Compiler, rule: dict, profile: Profile | None) -> dict:
    """{"matches": bool, "attributes": node | None, "events": [node]} where a node is
    {"path", "label", "holds", "children"}; evaluated in the database, one query per condition.
    Without a profile it only describes the rule (every `holds` is None)."""
    base = Profile.objects.filter(pk=profile.pk, account=compiler.account) if profile else None

    def holds(q: Q) -> bool | None:
        return base.filter(q).exists() if base is not None else None

    def group(node: dict, path: str) -> dict:
        children = []
        for index, child in enumerate(node["conditions"]):
            child_path = f"{path}.conditions[{index}]"
            if "conditions" in child:
                children.append(group(child, child_path))
            else:
                spec = compiler.catalog.attribute(child["attribute"])
                label = f"{spec.label} {ops.LABELS[child['operator']]} {_describe_value(child.get('value'))}".strip()
                children.append(
                    {
                        "path": child_path,
                        "label": label,
                        "holds": holds(compiler.condition_q(child)),
                        "children": [],
                    }
                )
        verdicts = [c["holds"] for c in children]
        if base is None:
            result = None
        else:
            result = (any(verdicts) if node["match"] == "any" else all(verdicts)) if verdicts else True
        label = "Any of these" if node["match"] == "any" else "All of these"
        return {"path": path, "label": label, "holds": result, "children": children}

    attributes = group(rule["attributes"], "attributes") if rule.get("attributes") else None
    events = []
    for index, clause in enumerate(rule.get("events") or []):
        label = event_sentence(clause)
        for prop in clause.get("properties") or []:
            label += f"; {prop['property']} {ops.LABELS[prop['operator']]} {_describe_value(prop.get('value'))}".rstrip()
        events.append(
            {
                "path": f"events[{index}]",
                "label": label,
                "holds": holds(compiler.event_q(clause)),
                "children": [],
            }
        )
    if base is None:
        return {"matches": None, "attributes": attributes, "events": events}
    matches = (attributes is None or attributes["holds"]) and all(e["holds"] for e in events)
    return {"matches": matches, "attributes": attributes, "events": events}


def describe_line(tree: dict) -> str:
    """A described rule (`explain` without a profile) on one line, for a folded filter:
    "city is London and (country is HR or country is SI); did not open the app in the last 30 days"."""

    def group(node: dict, nested: bool) -> str:
        joiner = " or " if node["label"].startswith("Any") else " and "
        parts = [group(child, True) if child["children"] else child["label"] for child in node["children"]]
        text = joiner.join(parts)
        return f"({text})" if nested and len(parts) > 1 else text

    parts = []
    if tree.get("attributes") and tree["attributes"]["children"]:
        parts.append(group(tree["attributes"], False))
    parts.extend(event["label"] for event in tree.get("events") or [])
    return "; ".join(parts) or "no conditions: everyone"
