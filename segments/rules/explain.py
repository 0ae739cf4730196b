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


def _occurrence(occurrence: dict) -> str:
    count = occurrence["count"]
    return f"{_OCCURRENCE[occurrence['operator']]} {count} time{'' if count == 1 else 's'}"


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
        occurrence = clause.get("occurrence") or {"operator": "gte", "count": 1}
        verb = "performed" if clause.get("performed", True) else "did not perform"
        label = f"{verb} {clause['event']} {_occurrence(occurrence)}, {event_time.window(clause['time']['operator']).words(clause['time'])}"
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
