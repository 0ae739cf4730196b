"""Reads of the segments app: the rule engine's public face (validate, queryset, count, explain)
and saved segments. Other apps (People's advanced filter, communications, the API) call these."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connection
from django.db.models import Q, QuerySet

from audience import counting
from audience.models import Account, AttributeDefinition, Profile
from segments.engines import store
from segments.models import Segment, SegmentSize
from segments.rules.catalog import Catalog
from segments.rules.compile import Compiler
from segments.rules.explain import explain
from segments.rules.messages import rule_error_words as _rule_error_words
from segments.rules.operators import NEGATIONS
from segments.rules.quick_filters import PeopleRule, people_rule
from segments.rules.validate import RuleErrors, rule_normalize

SORTS = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
    "updated": ("modified_at", "id"),
    "-updated": ("-modified_at", "-id"),
}
DEFAULT_SORT = "name"


# -- the rule engine -------------------------------------------------------------------------
def rule_validate(*, account: Account, rule: Any) -> list[str]:
    """The rule's errors, each naming its path (`attributes.conditions[3].value: expected a
    date`); empty when the rule is valid."""
    return rule_normalize(rule, Catalog(account))[1]


def rule_error_words(account: Account, rule: Any, errors: list[str]) -> list[dict]:
    """The rule's path-named errors as the editor shows them: {"path", "where", "message"}, the
    message in a marketer's words ("Enter a city, or choose “is empty”.")."""
    return _rule_error_words(rule, errors, Catalog(account))


def rule_clean(*, account: Account, rule: Any, zone: dt.tzinfo | None = None) -> dict:
    """The rule in its normalised form (date-times in UTC), or RuleErrors (a ValidationError)
    listing its errors. Date-times without an offset are read in the account's time zone, or in
    `zone` (the API passes UTC: `rule_from_api`)."""
    normalised, errors = rule_normalize(rule, Catalog(account), zone=zone)
    if errors:
        raise RuleErrors(errors)
    return normalised


def rule_from_api(*, account: Account, rule: Any) -> dict:
    """A rule the API received: its date-times without an offset are UTC, as everywhere in the
    API (docs/api.md), made explicit before anything else reads the rule; RuleErrors when it is
    invalid."""
    return rule_clean(account=account, rule=rule, zone=dt.UTC)


def rule_for_editor(*, account: Account, rule: Any) -> Any:
    """A rule as the editor shows it: each date-time with the offset of the account's time zone
    ("2026-12-03T16:26:00+01:00"), so the editor shows the account's wall time and sends the
    same moment back unless it is changed. A rule with errors is shown as it came."""
    shown, errors = rule_normalize(rule, Catalog(account), offsets_in=account.tz)
    return rule if errors else shown


def rule_queryset(*, account: Account, rule: Any, now: dt.datetime | None = None) -> QuerySet:
    """The account's profiles matching `rule`: one queryset (raises RuleErrors when invalid)."""
    catalog = Catalog(account)
    normalised, errors = rule_normalize(rule, catalog)
    if errors:
        raise RuleErrors(errors)
    return Compiler(account, catalog, now=now).queryset(normalised)


def rule_count(
    *, account: Account, rule: Any, cached: bool = True, timeout_ms: int | None = None
) -> int | None:
    """How many profiles match; None when counting took longer than the count timeout. With
    COUNT_ENGINE=duckdb, from the account's DuckDB file while it holds the account's latest data
    (segments/engines/store.py), else — stale, missing, or any DuckDB error — from the database."""

    def count() -> int | None:
        if store.enabled():
            found = store.rule_count(account=account, rule=rule_clean(account=account, rule=rule))
            if found is not None:
                return found
        return counting.count_with_timeout(TunedCount(_countable(account, rule)), timeout_ms=timeout_ms)

    return counting.cached(account.pk, _rule_key("rule", rule), count) if cached else count()


class ComplementCount:
    """The count of a negative condition on a standard column, or of a complemented event clause
    (`performed: false`, `fewer than 3 times`), as (the account's profiles) − (the positive), in
    one statement (one snapshot): both are index scans, where the negative itself reads ~90 % of
    the account's index rows one by one. Exact because the compiler's positive is never NULL, so
    its `~` is its complement (tests/segments/test_complements.py). `positive` is any queryset
    with one row per matching profile of the account (profiles, summary rows, grouped events)."""

    def __init__(self, account: Account, positive: QuerySet):
        self.account, self.positive = account, positive

    def count(self) -> int:
        profiles = Profile.objects.for_account(self.account).order_by().values("pk")
        try:
            positive, positive_params = self.positive.order_by().query.sql_with_params()
        except EmptyResultSet:  # a positive that can't match (`created_at is_empty`)
            return profiles.count()
        everyone, everyone_params = profiles.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT (SELECT count(*) FROM ({everyone}) e) - (SELECT count(*) FROM ({positive}) p)",
                [*everyone_params, *positive_params],
            )
            return cursor.fetchone()[0]


class SerialCount:
    """A count without parallel workers, for the rows of one event clause or contact condition:
    for grouped events a parallel plan builds the same hash of the events in every worker, which
    is slower than one process building it once (docs/performance.md). Needs the
    transaction counting.count_with_timeout opens on PostgreSQL (SET LOCAL)."""

    def __init__(self, countable: QuerySet | ComplementCount):
        self.countable = countable

    def count(self) -> int:
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        return self.countable.count()


class CheaperCount:
    """The count of whichever of a few exact forms of the same rule the planner prices lowest
    (`EXPLAIN`, no execution; under COUNT_SETTINGS when TunedCount wraps it): an OR of conditions
    is fastest as a UNION of ids when each branch is a few index rows, and as one scan when a
    branch matches most profiles (a UNION then de-duplicates a million ids: 5.8 s against 1.2 s
    for `external_id starts_with c00 OR address is_empty` at 1M). Elsewhere the first form."""

    def __init__(self, *countables: QuerySet):
        self.countables = countables
        self.db = countables[0].db
        self.model = countables[0].model

    def count(self) -> int:
        if connection.vendor != "postgresql" or len(self.countables) == 1:
            return self.countables[0].count()
        return min(self.countables, key=_plan_cost).count()


def _plan_cost(queryset: QuerySet) -> float:
    """The planner's total cost of counting `queryset` (0 when it can match nothing)."""
    plan = _plan(queryset, "SELECT count(*) FROM ({sql}) q")
    return float(plan["Total Cost"]) if plan else 0.0


def _plan(queryset: QuerySet, statement: str = "{sql}") -> dict | None:
    """The planner's top plan node of `statement` around `queryset`'s SQL, without running it
    (None when the queryset can match nothing)."""
    try:
        sql, params = queryset.order_by().query.sql_with_params()
    except EmptyResultSet:
        return None
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + statement.format(sql=sql), params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return plan[0]["Plan"]


# Planner settings for one rule count (SET LOCAL: this transaction only), measured on generated
# rules at 1M profiles (docs/rules.md): memory enough for the hashes a count builds — the
# profile ids of a contact, tag, Do Not Contact or event condition, up to every profile's — so
# that none spills to disk and an EXISTS under OR stays one hashed subplan instead of a probe per
# profile; no JIT, whose compile time (100–400 ms on a rule of many conditions) exceeds what it
# saves on a scan of a million narrow rows; and random reads priced as the cached reads they are.
COUNT_SETTINGS = {"work_mem": "96MB", "hash_mem_multiplier": "2", "jit": "off", "random_page_cost": "1.1"}


class TunedCount:
    """A count under COUNT_SETTINGS on PostgreSQL (in the transaction that
    counting.count_with_timeout opens); other databases count as they are."""

    def __init__(self, countable: QuerySet | ComplementCount | SerialCount | CheaperCount):
        self.countable = countable
        self.db = getattr(countable, "db", None)
        self.model = getattr(countable, "model", None)

    def count(self) -> int:
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            with connection.cursor() as cursor:
                for name, value in COUNT_SETTINGS.items():
                    cursor.execute(f"SET LOCAL {name} = %s", [value])
        return self.countable.count()


def _countable(account: Account, rule: Any) -> QuerySet | ComplementCount | SerialCount | CheaperCount:
    """What to count for `rule`: its queryset, or — for one condition or one event clause alone —
    its matching rows counted without the profile join, a complement as total − positive."""
    catalog = Catalog(account)
    normalised, errors = rule_normalize(rule, catalog)
    if errors:
        raise RuleErrors(errors)
    compiler = Compiler(account, catalog, hashed_sets=connection.vendor == "postgresql")
    conditions = (normalised.get("attributes") or {}).get("conditions") or []
    if not normalised.get("events") and len(conditions) == 1 and "conditions" not in conditions[0]:
        condition = conditions[0]
        spec = catalog.attribute(condition["attribute"])
        assert spec is not None  # the validator refused unknown attributes
        if spec.source == "contact":
            rows, negated = compiler.contact_matches(spec, condition["operator"], condition.get("value"))
            return SerialCount(ComplementCount(account, rows) if negated else rows)
        if condition["operator"] in NEGATIONS and spec.source == "column":
            positive = {**condition, "operator": NEGATIONS[condition["operator"]]}
            return ComplementCount(
                account, compiler.queryset({"attributes": {"match": "all", "conditions": [positive]}})
            )
    events = normalised.get("events") or []
    if not conditions and len(events) == 1:
        # One event clause: its positive part counted on its own (summary rows, or the events'
        # distinct or grouped profile ids), and a complement as total − positive, instead of
        # probing every profile against a hashed set of ids.
        matches, negated = compiler.event_matches(events[0])
        return SerialCount(ComplementCount(account, matches.rows) if negated else matches.rows)
    if _is_any_of_positives(normalised):
        # `A or B or …` as the count of a UNION of ids: each branch an index(-only) scan of its
        # own, where one WHERE A OR B is a BitmapOr that visits the heap for every match.
        branches = [
            compiler.queryset({"attributes": {"match": "all", "conditions": [c]}}) for c in conditions
        ]
        first, *rest = [branch.order_by().values("pk") for branch in branches]
        return CheaperCount(first.union(*rest), compiler.queryset(normalised))
    queryset = compiler.queryset(normalised)
    if not compiler.grouped_events or connection.vendor != "postgresql":
        return queryset
    # Events counted inside a window: one grouped set of every matching profile's, or a count per
    # profile where the rest of the rule leaves few profiles (docs/rules.md). Parallel workers
    # stay allowed: without them `phone is_empty` AND `Page View ≥ 2 between 43 and 62 days ago`
    # took 13.9 s against 3.2 s with them (each worker built the grouped hash, but also probed
    # its share of the profiles).
    if _per_profile_is_cheaper(account, catalog, compiler, normalised):
        per_profile = Compiler(account, catalog, now=compiler.now, hashed_sets=True, correlated_counts=True)
        queryset = per_profile.queryset(normalised)
    return queryset


# A count of one profile's events (an event_timeline range) costs about as much as grouping this
# many events read in index order (measured at 1M profiles: ~50 µs against ~18 µs loaded, with
# a margin for the planner's row estimates, which are off by 10x both ways on these shapes).
PROBE_ROWS = 10


def _per_profile_is_cheaper(account: Account, catalog: Catalog, compiler: Compiler, rule: dict) -> bool:
    """Whether counting each remaining profile's events beats grouping every matching event: the
    profiles the rest of the rule leaves, times the grouped clauses, times PROBE_ROWS, against the
    planner's estimate of the events those clauses read. (The planner's own prices can't choose:
    it costs a probe per profile at ~400 index rows read in order, 10x off.)"""
    grouped: list[dict] = []
    rest: list[dict] = []
    for clause in rule.get("events") or []:
        probe = Compiler(account, catalog, now=compiler.now)
        probe.event_q(clause)
        (grouped if probe.grouped_events else rest).append(clause)
    events = sum((_plan_rows(compiler._events(clause).values("profile_id")) for clause in grouped), 0.0)
    enough = int(events // (len(grouped) * PROBE_ROWS))
    if enough < 1:
        return False
    # The profiles the rest of the rule leaves, counted up to `enough` (a LIMIT): the planner's
    # estimate of them was 34–100x low on generated rules (51 expected, 5,203 there).
    base = Compiler(account, catalog, now=compiler.now, hashed_sets=True).queryset({**rule, "events": rest})
    return base.order_by().values("pk")[:enough].count() < enough


def _plan_rows(queryset: QuerySet) -> float:
    """The planner's estimate of the rows of `queryset` (0 when it can match nothing)."""
    plan = _plan(queryset)
    return float(plan["Plan Rows"]) if plan else 0.0


def _is_any_of_positives(rule: dict) -> bool:
    group = rule.get("attributes") or {}
    conditions = group.get("conditions") or []
    return (
        not rule.get("events")
        and group.get("match") == "any"
        and 1 < len(conditions) <= 5
        and all("conditions" not in c and c["operator"] not in NEGATIONS for c in conditions)
    )


def _rule_key(kind: str, rule: Any) -> tuple:
    """The rule as given: a hit needs no query at all (not even the catalog's). The same text
    always compiles the same way within one data generation of the account, which moves when
    its definitions or its time zone change too (audience.counting)."""
    return (kind, json.dumps(rule, sort_keys=True, default=str))


def rule_with_people_filters(*, account: Account, query: Any, rule: dict) -> PeopleRule:
    """`rule` ANDed with the quick filters of a People querystring, and the filters that the rule
    language can't say (for "Save as segment": the segment holds whom People counted)."""
    return people_rule(account=account, query=query, rule=rule)


def people_count(account: Account, query: Any) -> tuple[bool, int | None]:
    """The People summary card's count through `rule_count` when a second count engine is on
    and every filter of `query` is said in the rule language (the translation "Save as segment"
    uses, exact: tests/segments/test_save_from_people.py): (True, the count, or None while still
    counting). (False, None) otherwise: the FilterSet's count (audience.selectors.profile_count)."""
    if not store.enabled():
        return False, None
    from audience import selectors as people

    try:
        translated = people_rule(
            account=account, query=query, rule=people.people_rule(query) or {"version": 1}
        )
        if translated.left_out:
            return False, None
        return True, rule_count(account=account, rule=translated.rule)
    except ValidationError:  # a rule that isn't JSON or is invalid: the FilterSet's path says so
        return False, None


def rule_explain(account: Account, rule: Any, profile: Profile) -> dict:
    """For one profile: {"matches", "attributes": node, "events": [node]}, a node being
    {"path", "label", "holds", "children"}."""
    catalog = Catalog(account)
    normalised, errors = rule_normalize(rule, catalog)
    if errors:
        raise RuleErrors(errors)
    return explain(Compiler(account, catalog), normalised, profile)


def rule_describe(account: Account, rule: Any) -> dict:
    """The rule in words, as the tree `rule_explain` returns (with every `holds` None)."""
    catalog = Catalog(account)
    normalised, errors = rule_normalize(rule, catalog)
    if errors:
        raise RuleErrors(errors)
    return explain(Compiler(account, catalog), normalised, None)


def rule_sample(account: Account, rule: Any, *, size: int = 5) -> list[Profile]:
    """A few matching profiles (the newest), for the editor's live preview. Their ids are cached
    with the count: finding the newest matches costs as much as counting on some rules, reading
    five profiles by id does not."""

    def newest() -> list[int]:
        return list(
            rule_queryset(account=account, rule=rule).order_by("-id").values_list("pk", flat=True)[:size]
        )

    ids = counting.cached(account.pk, _rule_key(f"sample{size}", rule), newest)
    return list(Profile.objects.for_account(account).filter(pk__in=ids).order_by("-id"))


# -- saved segments -------------------------------------------------------------------------
def segments_for_account(*, account: Account, search: str = "", sort: str = DEFAULT_SORT) -> QuerySet:
    queryset = Segment.objects.for_account(account)
    if search:
        queryset = queryset.filter(name__icontains=search)
    return queryset.order_by(*SORTS.get(sort, SORTS[DEFAULT_SORT]))


def segment_profiles(*, segment: Segment) -> QuerySet:
    """The profiles in a saved segment right now."""
    return rule_queryset(account=segment.account, rule=segment.rule)


@dataclass
class ProfilePage:
    profiles: list[Profile]
    next_after: int | None
    previous_before: int | None = None


def segment_profiles_page(
    *, segment: Segment, after: str = "", before: str = "", size: int = 50
) -> ProfilePage:
    """Newest first, keyset-paged on id (no OFFSET however deep), both ways: `after` an id for
    the next page, `before` an id for the previous one."""
    queryset = segment_profiles(segment=segment).prefetch_related("contacts")
    if before.isdigit() and not after.isdigit():
        # Walk back: the `size` rows just newer than `before`, then in screen order again.
        rows = list(queryset.filter(pk__gt=int(before)).order_by("id")[: size + 1])
        more = len(rows) > size
        rows = rows[:size][::-1]
        return ProfilePage(rows, rows[-1].pk if rows else None, rows[0].pk if rows and more else None)
    queryset = queryset.order_by("-id")
    if after.isdigit():
        queryset = queryset.filter(pk__lt=int(after))
    rows = list(queryset[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return ProfilePage(rows, rows[-1].pk if more else None, rows[0].pk if rows and after.isdigit() else None)


def segment_sizes(*, segment: Segment, days: int = 90) -> list[SegmentSize]:
    return list(segment.sizes.filter(date__gte=dt.date.today() - dt.timedelta(days=days)).order_by("date"))


def segments_containing(*, account: Account, profile: Profile) -> list[Segment]:
    """The saved segments this profile is in (one query per segment; for one profile's card)."""
    found = []
    for segment in Segment.objects.for_account(account)[:100]:
        try:
            if segment_profiles(segment=segment).filter(pk=profile.pk).exists():
                found.append(segment)
        except RuleErrors:
            continue
    return found


def _rules_mentioning(account_id: int, q: Q) -> list[Segment]:
    return list(Segment.objects.filter(q, account_id=account_id))


def rule_conditions(rule):
    """Every condition of a rule of the segment rule language, however nested (none for a rule
    that is not a dict)."""
    stack = [rule.get("attributes") or {}] if isinstance(rule, dict) else []
    while stack:
        node = stack.pop()
        for child in node.get("conditions", []) if isinstance(node, dict) else []:
            if isinstance(child, dict) and "conditions" in child:
                stack.append(child)
            elif isinstance(child, dict):
                yield child


def tag_usage(tag) -> list[str]:
    """Segments whose rule names this tag (for the Tags screen's "Currently used")."""
    name = tag.name.lower()
    found = []
    for segment in Segment.objects.filter(account_id=tag.account_id, rule__icontains=tag.name):
        for condition in rule_conditions(segment.rule):
            values = condition.get("value")
            values = values if isinstance(values, list) else [values]
            if condition.get("attribute") == "tags" and name in [str(v).lower() for v in values]:
                found.append(f"Segment “{segment.name}”")
                break
    return found


def attribute_usage(definition: AttributeDefinition) -> list[str]:
    """Segments whose rule names this custom attribute (Configuration refuses to delete it)."""
    key = f"custom.{definition.name}".lower()
    found = []
    for segment in Segment.objects.filter(account_id=definition.account_id, rule__icontains=definition.name):
        if any(str(c.get("attribute", "")).lower() == key for c in rule_conditions(segment.rule)):
            found.append(f"Segment “{segment.name}”")
    return found


def editor_schema(*, account: Account) -> dict:
    """What the rule editor needs: attributes (key, label, kind, choices), the operator table,
    events and their property types, and tag names for the tag picker."""
    from segments.rules import operators
    from tags.models import Tag

    catalog = Catalog(account)
    schema = operators.schema()
    schema["attributes"] = [
        {"key": spec.key, "label": spec.label, "kind": spec.kind, "choices": [list(c) for c in spec.choices]}
        for spec in catalog.attributes()
    ]
    schema["events"] = [{"name": d.name, "properties": d.properties or {}} for d in catalog.events.values()]
    schema["tags"] = list(
        Tag.objects.for_account(account).order_by("name").values_list("name", flat=True)[:500]
    )
    schema["countries"] = _countries(account)
    # Date-times are typed as wall times in this zone (segments.rules.validate).
    schema["time_zone"] = account.time_zone
    return schema


def _countries(account: Account) -> list[str]:
    # The country picker offers the account's own values; DISTINCT over a million rows costs
    # ~0.1 s even index-only, so it is cached for ten minutes.
    from django.core.cache import cache

    key = f"segments:countries:{account.pk}"
    found = cache.get(key)
    if found is None:
        rows = Profile.objects.for_account(account).exclude(country="").order_by("country")
        found = list(rows.values_list("country", flat=True).distinct()[:300])
        cache.set(key, found, 600)
    return found
