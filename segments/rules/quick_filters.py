"""The People quick filters as rule conditions, for "Save as segment": the saved segment must hold
exactly the people the People screen counted, so every quick filter is translated into the rule
language and ANDed with the advanced rule; a filter the language can't say is named back to the
person (`left_out`), never dropped in silence.

Each translation is exact, and tests/segments/test_save_from_people.py compares the counts:
`gender`/`type` are the same choice, `city`/`country` are `iexact` (`is` is case-insensitive),
`address` is `icontains` (`contains`), the created dates are the account's days (half-open
ranges of moments, as the FilterSet compares them), and tags are matched by name regardless of
case in both. The search box (a prefix of names, an exact external id or contact) and the filters
over sent messages have no counterpart in the rule language.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field

from django.http import QueryDict

from audience.filters import ProfileFilterSet
from audience.models import Account
from segments.rules import operators as ops

# Querystring keys of the People screen that steer the list but filter nothing.
_NOT_FILTERS = ("rule", "sort", "after", "before", "page")


@dataclass
class PeopleRule:
    rule: dict
    left_out: list[str] = field(default_factory=list)  # quick filters not carried, in words


def _moment(account: Account, day: dt.date) -> str:
    start = dt.datetime.combine(day, dt.time(), tzinfo=account.tz).astimezone(dt.UTC)
    return start.isoformat().replace("+00:00", "Z")


def _shown(form, name: str) -> str:
    """A quick filter's chosen value as the person saw it (a choice's label, else the value)."""
    bound = form[name]
    raw = bound.value()
    choices = dict(getattr(form.fields[name], "choices", []) or [])
    values = raw if isinstance(raw, list) else [raw]
    return ", ".join(str(choices.get(v, v)) for v in values)


def _conditions(account: Account, data: dict) -> list[dict]:
    conditions: list[dict] = []
    for key in ("gender", "type"):
        if data.get(key):
            conditions.append({"attribute": key, "operator": "is", "value": data[key]})
    for key in ("city", "country"):
        if data.get(key):
            conditions.append({"attribute": key, "operator": "is", "value": data[key]})
    if data.get("address"):
        conditions.append({"attribute": "address", "operator": "contains", "value": data["address"]})
    if data.get("created_after"):
        value = _moment(account, data["created_after"])
        conditions.append({"attribute": "created_at", "operator": "since", "value": value})
    if data.get("created_before"):
        value = _moment(account, data["created_before"] + dt.timedelta(days=1))
        conditions.append({"attribute": "created_at", "operator": "before", "value": value})
    tag_ids = data.get("tag") or []
    if tag_ids:
        from tags.models import Tag

        names = list(
            Tag.objects.filter(account=account, pk__in=tag_ids)
            .order_by("name")
            .values_list("name", flat=True)
        )
        if data.get("tag_match") == "all":
            conditions += [{"attribute": "tags", "operator": "is", "value": name} for name in names]
        else:
            conditions.append({"attribute": "tags", "operator": "in", "value": names})
    return conditions


# In the order of the People screen, so the names read back in that order.
_TRANSLATED = (
    "gender",
    "type",
    "city",
    "country",
    "address",
    "created_after",
    "created_before",
    "tag",
    "tag_match",
)


def _depth(group: dict) -> int:
    children = [c for c in group.get("conditions") or [] if isinstance(c, dict) and "conditions" in c]
    return 1 + max((_depth(c) for c in children), default=0)


def people_rule(*, account: Account, query: QueryDict, rule: dict) -> PeopleRule:
    """`rule` (the advanced filter) ANDed with the quick filters of the People `query`."""
    data = QueryDict(mutable=True)
    for key in query:
        if key not in _NOT_FILTERS:
            data.setlist(key, query.getlist(key))
    if not data:
        return PeopleRule(rule)
    filterset = ProfileFilterSet(data, account=account)
    form = filterset.form
    if not form.is_valid():
        problems = "; ".join(
            f"{form.fields[n].label if n in form.fields else n}: {' '.join(e)}"
            for n, e in form.errors.items()
        )
        return PeopleRule(rule, [f"the quick filters, which could not be read ({problems})"])
    cleaned = form.cleaned_data
    left_out = [
        f"{form.fields[name].label} “{_shown(form, name)}”"
        for name, value in cleaned.items()
        if value not in (None, "", [], ()) and name not in _TRANSLATED
    ]
    conditions = _conditions(account, cleaned)
    if not conditions:
        return PeopleRule(rule, left_out)
    combined = copy.deepcopy(rule) if isinstance(rule, dict) else {"version": 1}
    advanced = combined.get("attributes")
    if not isinstance(advanced, dict) or not advanced.get("conditions"):
        combined["attributes"] = {"match": "all", "conditions": conditions}
    elif advanced.get("match", "all") == "all":
        combined["attributes"] = {"match": "all", "conditions": conditions + list(advanced["conditions"])}
    elif _depth(advanced) < ops.MAX_DEPTH:
        combined["attributes"] = {"match": "all", "conditions": [*conditions, advanced]}
    else:
        # The advanced "any" group already nests as deep as a rule may: ANDing the quick
        # filters would need one level more.
        names = ", ".join(form.fields[n].label for n in _TRANSLATED if cleaned.get(n) and n != "tag_match")
        return PeopleRule(
            rule,
            [*left_out, f"{names} (the advanced filter already nests groups {ops.MAX_DEPTH} levels deep)"],
        )
    return PeopleRule(combined, left_out)
