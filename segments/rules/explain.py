"""Why a profile is (or is not) in a rule: each condition and event clause, held or not."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from audience.models import Profile
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


def explain(compiler: Compiler, rule: dict, profile: Profile) -> dict:
    """{"matches": bool, "attributes": node | None, "events": [node]} where a node is
    {"path", "label", "holds", "children"}; evaluated in the database, one query per node."""
    base = Profile.objects.filter(pk=profile.pk, account=compiler.account)

    def holds(q: Q) -> bool:
        return base.filter(q).exists()

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
        result = (any(verdicts) if node["match"] == "any" else all(verdicts)) if verdicts else True
        label = "Any of these" if node["match"] == "any" else "All of these"
        return {"path": path, "label": label, "holds": result, "children": children}

    attributes = group(rule["attributes"], "attributes") if rule.get("attributes") else None
    events = []
    for index, clause in enumerate(rule.get("events") or []):
        occurrence = clause.get("occurrence") or {"operator": "gte", "count": 1}
        verb = "performed" if clause.get("performed", True) else "did not perform"
        label = f"{verb} {clause['event']} ({occurrence['operator']} {occurrence['count']} times, {clause['time']['operator'].replace('_', ' ')})"
        events.append(
            {
                "path": f"events[{index}]",
                "label": label,
                "holds": holds(compiler.event_q(clause)),
                "children": [],
            }
        )
    matches = (attributes is None or attributes["holds"]) and all(e["holds"] for e in events)
    return {"matches": matches, "attributes": attributes, "events": events}
