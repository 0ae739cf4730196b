"""A selection of profiles: chosen rows, or "all N matching" the People filter (quick filters plus
an optional advanced rule). Every bulk action, export and broadcast resolves its audience here,
so they act on exactly what the People screen showed.

A selection is plain JSON (`to_json`/`from_json`) so a job row can keep it and a worker on another
machine can resolve it again. The advanced rule is compiled by the segments engine, which
registers itself with `register_rule_compiler` (segments builds on audience, not the reverse).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import QueryDict

from audience.filters import ProfileFilterSet
from audience.models import Account, Profile

RuleCompiler = Callable[[Account, dict], QuerySet]
_rule_compiler: list[RuleCompiler] = []


def register_rule_compiler(compiler: RuleCompiler) -> None:
    _rule_compiler[:] = [compiler]


# The People count from a second count engine (segments registers it): (True, the number of
# profiles matching a People querystring, or None while still counting), or (False, None) to
# count the FilterSet's queryset in the database.
PeopleCounter = Callable[[Account, QueryDict], "tuple[bool, int | None]"]
_people_counter: list[PeopleCounter] = []


def register_people_counter(counter: PeopleCounter) -> None:
    _people_counter[:] = [counter]


def people_count_elsewhere(*, account: Account, query: QueryDict) -> tuple[bool, int | None]:
    return _people_counter[0](account, query) if _people_counter else (False, None)


@dataclass
class Selection:
    ids: list[int] | None = None  # explicit rows; None means "all matching the filter"
    filters: dict[str, list[str]] = field(default_factory=dict)  # the People querystring
    rule: dict | None = None  # the advanced filter rule (segments' rule language)

    @property
    def is_all_matching(self) -> bool:
        return self.ids is None

    def to_json(self) -> dict[str, Any]:
        return {"ids": self.ids, "filters": self.filters, "rule": self.rule}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Selection:
        ids = data.get("ids")
        return cls(
            ids=[int(i) for i in ids] if ids is not None else None,
            filters={k: list(v) for k, v in (data.get("filters") or {}).items()},
            rule=data.get("rule"),
        )

    @classmethod
    def from_post(cls, post: QueryDict) -> Selection:
        """Read the selection fields a People bulk-action form posts: `ids` (repeated) or
        `all=1` with `query` (the list's querystring, which may carry `rule` as JSON)."""
        query = QueryDict(post.get("query", ""))
        rule = _rule_from_query(query)
        filters = {key: query.getlist(key) for key in query if key not in ("rule", "page", "sort", "after")}
        if post.get("all") == "1":
            return cls(ids=None, filters=filters, rule=rule)
        try:
            ids = sorted({int(i) for i in post.getlist("ids")})
        except ValueError:
            raise ValidationError("The selection holds something that is not a profile id.") from None
        if not ids:
            raise ValidationError("Select at least one profile, or all profiles matching the filter.")
        return cls(ids=ids, filters=filters, rule=rule)


def _rule_from_query(query: QueryDict) -> dict | None:
    import json

    raw = query.get("rule")
    if not raw:
        return None
    try:
        rule = json.loads(raw)
    except ValueError:
        raise ValidationError("The advanced filter is not valid JSON.") from None
    return rule if isinstance(rule, dict) else None


def profiles_matching(
    *, account: Account, filters: dict[str, list[str]], rule: dict | None = None
) -> QuerySet:
    """The account's profiles matching the People quick filters and, if given, an advanced rule."""
    data = QueryDict(mutable=True)
    for key, values in filters.items():
        data.setlist(key, values)
    filterset = ProfileFilterSet(data, queryset=Profile.objects.for_account(account), account=account)
    if not filterset.is_valid():
        raise ValidationError(
            "; ".join(f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items())
        )
    queryset = filterset.qs
    if rule:
        if not _rule_compiler:
            raise ValidationError("Advanced filters are not available.")
        queryset = queryset.filter(pk__in=_rule_compiler[0](account, rule).values("pk"))
    return queryset


def selection_queryset(*, account: Account, selection: Selection) -> QuerySet:
    """The profiles a selection stands for, always within `account`."""
    if selection.ids is not None:
        return Profile.objects.for_account(account).filter(pk__in=selection.ids)
    return profiles_matching(account=account, filters=selection.filters, rule=selection.rule)
