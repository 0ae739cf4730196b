"""The filter language of `GET /people/2/persons` (`{"#and": [...]}`, `{"#or": [...]}`,
`{"field": value}`, `{"#contains": {"field": value}}`, ...) translated into the segment rule
language, so that one engine (`segments.selectors.rule_queryset`) decides who matches. What each
operator means is in docs/api.md; a filter the rule language cannot express is an ApiError 400
naming where it is."""

from __future__ import annotations

import json
import re
from typing import Any

from django.db.models import QuerySet

from audience.api_errors import ApiError
from audience.api_person import FIELDS
from audience.models import Account
from audience.text import text_unstorable
from segments import selectors as segment_selectors
from segments.rules import operators as ops
from segments.rules.catalog import STANDARD_BY_KEY
from segments.rules.validate import RuleErrors

# API field -> rule attribute: the standard columns (`createdAt`, `modifiedAt` included) and tags.
ATTRIBUTES = {**FIELDS, "tags": "tags"}

# API comparison -> rule operator, for each kind of attribute; missing = not expressible.
_TEXT = {
    "#eq": "is",
    "#ne": "is_not",
    "#contains": "contains",
    "#notContain": "not_contains",
    "#startsWith": "starts_with",
    "#endsWith": "ends_with",
}
_DATE = {"#eq": "is", "#ne": "is_not", "#gt": "after", "#lt": "before", "#gte": "since", "#lte": "until"}
OPERATORS: dict[str, dict[str, str]] = {
    ops.TEXT: _TEXT,
    ops.CHOICE: {"#eq": "is", "#ne": "is_not"},
    ops.DATE: _DATE,
    ops.DATETIME: _DATE,
    # A person's tags are a set of names: "contains" is "has it".
    ops.TAGS: {"#eq": "is", "#ne": "is_not", "#contains": "is", "#notContain": "is_not"},
}
COMPARISONS = (
    "#eq",
    "#ne",
    "#contains",
    "#notContain",
    "#startsWith",
    "#endsWith",
    "#gt",
    "#lt",
    "#gte",
    "#lte",
)
# Equality with null or "" is "is empty", `#ne` with it "is not empty".
_EMPTY = {"#eq": "is_empty", "#ne": "is_not_empty"}
# Deeper filters are refused before the rule's own limits (3 levels of groups once `#and` in
# `#and` is merged) are checked: a limit on the recursion, not on what a filter can say.
MAX_NESTING = 32


def _bad(path: str, message: str) -> ApiError:
    return ApiError(400, "Bad request", {path: [message]})


class _Translation:
    """One filter as a rule, remembering which filter path each rule path came from."""

    def __init__(self) -> None:
        self.paths: dict[str, str] = {}

    def node(self, node: Any, path: str, depth: int = 1) -> dict:
        if depth > MAX_NESTING:
            raise _bad(path, f"filters nest at most {MAX_NESTING} levels")
        if not isinstance(node, dict) or len(node) != 1:
            raise _bad(path, "each filter node is an object with one key")
        ((key, value),) = node.items()
        if key in ("#and", "#or"):
            if not isinstance(value, list) or not value:
                raise _bad(path, f"{key} takes a non-empty list")
            match = "all" if key == "#and" else "any"
            conditions = []
            for i, item in enumerate(value):
                child = self.node(item, f"{path}.{key}[{i}]", depth + 1)
                # `#and` inside `#and` (or a group of one) is the same group: it costs no nesting level.
                if "conditions" in child and (child["match"] == match or len(child["conditions"]) == 1):
                    conditions.extend(child["conditions"])
                else:
                    conditions.append(child)
            return {"match": match, "conditions": conditions, "_path": path}
        if key in COMPARISONS:
            if not isinstance(value, dict) or len(value) != 1:
                raise _bad(path, f"{key} takes an object with one field")
            ((field, operand),) = value.items()
            return self.condition(key, field, operand, f"{path}.{key}")
        if key.startswith("#"):
            raise _bad(path, f"unknown operator {key!r}")
        return self.condition("#eq", key, value, path)

    def condition(self, comparison: str, field: str, operand: Any, path: str) -> dict:
        attribute = ATTRIBUTES.get(field)
        if attribute is None:
            raise _bad(path, f"unknown field {field!r}")
        spec = STANDARD_BY_KEY[attribute]
        table = OPERATORS[spec.kind]
        if comparison not in table:
            takes = ", ".join(c for c in COMPARISONS if c in table)
            raise _bad(path, f"{comparison} does not apply to {field} (it takes {takes})")
        condition: dict[str, Any] = {"attribute": attribute}
        if operand is None or (isinstance(operand, str) and not operand.strip()):
            if comparison not in _EMPTY:
                raise _bad(path, f"{comparison} takes a value (an empty {field} is equality with null)")
            condition["operator"] = _EMPTY[comparison]
        elif isinstance(operand, str) and (reason := text_unstorable(operand)):
            raise _bad(path, reason)  # a JSON `\u0000` inside the filter's own JSON text
        elif isinstance(operand, (dict, list, bool)):
            raise _bad(path, f"expected one text or date value for {field}")
        else:
            condition["operator"] = table[comparison]
            condition["value"] = operand if isinstance(operand, str) else str(operand)
        condition["_path"] = path
        return condition

    def rule(self, node: Any) -> dict:
        top = self.node(node, "filter")
        if "conditions" not in top:
            top = {"match": "all", "conditions": [top], "_path": "filter"}
        elif len(top["conditions"]) == 1 and "conditions" in top["conditions"][0]:
            top = top["conditions"][0]
        self._record(top, "attributes")
        return {"version": 1, "attributes": top}

    def _record(self, node: dict, rule_path: str) -> None:
        self.paths[rule_path] = node.pop("_path")
        for i, child in enumerate(node.get("conditions", ())):
            self._record(child, f"{rule_path}.conditions[{i}]")

    def error(self, message: str) -> tuple[str, str]:
        """A rule error (`attributes.conditions[1].value: expected a date`) in the filter's terms."""
        rule_path, _, words = message.partition(": ")
        found = re.match(r"attributes(?:\.conditions\[\d+\])*", rule_path)
        prefix = found.group(0) if found else ""
        while prefix and prefix not in self.paths:
            prefix = prefix.rpartition(".")[0]
        return self.paths.get(prefix, "filter"), words


def person_filter_rule(raw: str) -> tuple[dict, _Translation]:
    """The `filter` query parameter (JSON text) as a rule, or an ApiError 400 naming what is wrong."""
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "Bad request", {"filter": ["not valid JSON"]}) from None
    translation = _Translation()
    return translation.rule(parsed), translation


def person_filter_queryset(raw: str, *, account: Account) -> QuerySet:
    """The account's profiles matching the `filter` query parameter, through the rule engine."""
    rule, translation = person_filter_rule(raw)
    try:
        rule = segment_selectors.rule_from_api(account=account, rule=rule)  # offset-less = UTC
        return segment_selectors.rule_queryset(account=account, rule=rule)
    except RuleErrors as invalid:
        named: dict[str, list[str]] = {}
        for message in invalid.errors:
            path, words = translation.error(message)
            named.setdefault(path, []).append(words)
        raise ApiError(400, "Bad request", named) from None
