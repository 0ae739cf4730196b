"""The filter language of `GET /people/2/persons`: `{"#and": [...]}`, `{"#or": [...]}`,
`{"field": value}`, `{"#contains": {"field": value}}`, ... over standard fields and `tags`,
compiled to a `Q` of the account's profiles."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Q

from audience.api_errors import ApiError
from audience.api_person import FIELDS
from audience.models import Account
from tags import selectors as tag_selectors

COMPARISONS = {
    "#eq": "exact",
    "#ne": "exact",
    "#contains": "icontains",
    "#notContain": "icontains",
    "#startsWith": "istartswith",
    "#endsWith": "iendswith",
    "#gt": "gt",
    "#lt": "lt",
    "#gte": "gte",
    "#lte": "lte",
}
NEGATED = {"#ne", "#notContain"}


def _condition(field: str, lookup: str, value: Any, path: str, *, account: Account) -> Q:
    if field == "tags":
        if lookup not in ("exact", "icontains"):
            raise ApiError(400, "Bad request", {path: ["tags take #contains, #notContain or equality"]})
        links = tag_selectors.profile_tag_links(account=account, names=[str(value)])
        return Q(pk__in=links.values("profile_id"))
    column = FIELDS.get(field)
    if column is None:
        raise ApiError(400, "Bad request", {path: [f"unknown field {field!r}"]})
    if column in ("type", "gender") and isinstance(value, str):
        value = value.lower()
    if (
        lookup == "exact"
        and isinstance(value, str)
        and column not in ("birth_date", "created_at", "modified_at")
    ):
        lookup = "iexact"
    return Q(**{f"{column}__{lookup}": value})


def filter_q(node: Any, path: str = "filter", *, account: Account) -> Q:
    if not isinstance(node, dict) or len(node) != 1:
        raise ApiError(400, "Bad request", {path: ["each filter node is an object with one key"]})
    ((key, value),) = node.items()
    if key in ("#and", "#or"):
        if not isinstance(value, list) or not value:
            raise ApiError(400, "Bad request", {path: [f"{key} takes a non-empty list"]})
        parts = [filter_q(item, f"{path}.{key}[{i}]", account=account) for i, item in enumerate(value)]
        combined = parts[0]
        for part in parts[1:]:
            combined = combined & part if key == "#and" else combined | part
        return combined
    if key in COMPARISONS:
        if not isinstance(value, dict) or len(value) != 1:
            raise ApiError(400, "Bad request", {path: [f"{key} takes an object with one field"]})
        ((field, operand),) = value.items()
        q = _condition(field, COMPARISONS[key], operand, f"{path}.{key}", account=account)
        return ~q if key in NEGATED else q
    if key.startswith("#"):
        raise ApiError(400, "Bad request", {path: [f"unknown operator {key!r}"]})
    return _condition(key, "exact", value, path, account=account)


def person_filter_q(raw: str, *, account: Account) -> Q:
    """The `filter` query parameter (JSON text) as a `Q`, or an ApiError 400 naming what is wrong."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ApiError(400, "Bad request", {"filter": ["not valid JSON"]}) from None
    return filter_q(parsed, account=account)
