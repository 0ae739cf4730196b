"""The DuckDB count engine (segments.engines) against the ORM compiler: the same profiles, counted
and listed, for every generated rule (benchmarks/rule_generator.py) on the seeded dataset of
test_generated_rules, and for hand-written rules on the edges of the language (time zones, empty
values, clauses that admit zero events, Do Not Contact per channel). Runs on SQLite and
PostgreSQL: the loader reads either."""

from __future__ import annotations

import datetime as dt

import pytest

from audience.models import Event, Profile
from benchmarks.rule_generator import RuleGenerator, Vocabulary
from segments import selectors
from tests.segments.conftest import NOW
from tests.segments.test_generated_rules import RULES, SEED, dataset  # noqa: F401 (a fixture)

duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed (requirements.txt lists it)")

from segments.engines import duck_load, duck_sql  # noqa: E402 (after the skip: they import duckdb's users)


def _duck(account) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    duck_load.load_account(con, account.pk)
    duck_sql.prepare(con)
    return con


def _orm_ids(account, rule) -> list[int]:
    return sorted(selectors.rule_queryset(account=account, rule=rule, now=NOW).values_list("pk", flat=True))


def _same(con, account, rule) -> list[int]:
    """The rule's members by DuckDB, after checking them and the count against the ORM's."""
    expected = _orm_ids(account, rule)
    ids = duck_sql.rule_ids(con, rule, account=account, now=NOW)
    assert ids == expected, (rule, len(ids), len(expected))
    assert duck_sql.rule_count(con, rule, account=account, now=NOW) == len(expected), rule
    return ids


def test_it_loads_every_table_of_the_account(dataset):  # noqa: F811
    con = duckdb.connect()
    counts = duck_load.load_account(con, dataset.pk)
    assert counts["profiles"] == Profile.objects.filter(account=dataset).count() == 300
    assert counts["events"] == Event.objects.filter(account=dataset).count() > 1000
    assert counts["contacts"] > 300 and counts["profile_tags"] == 180 and counts["dnc_entries"] >= 40
    # Empty text stays "", not NULL; timestamps are UTC.
    assert con.execute("SELECT count(*) FROM profiles WHERE middle_name IS NULL").fetchone()[0] == 0
    first = Event.objects.filter(account=dataset).order_by("occurred_at", "pk").first()
    stored = con.execute("SELECT min(occurred_at) FROM events").fetchone()[0]
    assert stored == first.occurred_at.astimezone(dt.UTC).replace(tzinfo=None)
    duck_sql.prepare(con)
    duck_load.load_account(con, dataset.pk)  # again: replaces, does not add
    assert con.execute("SELECT count(*) FROM profiles").fetchone()[0] == 300


def test_generated_rules_count_the_same_in_duckdb(dataset):  # noqa: F811
    """The differential test: every generated rule's count (rule_count, uncached) and members
    (rule_queryset) from the ORM equal DuckDB's."""
    con = _duck(dataset)
    vocab = Vocabulary.from_account(dataset, now=NOW)
    split = 0
    for index, rule in enumerate(RuleGenerator(vocab, SEED).rules(RULES)):
        expected = _orm_ids(dataset, rule)
        count = selectors.rule_count(account=dataset, rule=rule, cached=False)
        assert count == len(expected), (index, rule)
        assert duck_sql.rule_count(con, rule, account=dataset, now=NOW) == count, (index, rule)
        assert duck_sql.rule_ids(con, rule, account=dataset, now=NOW) == expected, (index, rule)
        split += 0 < count < 300
    assert split > RULES // 3


def test_generated_rules_of_another_seed(dataset):  # noqa: F811
    con = _duck(dataset)
    vocab = Vocabulary.from_account(dataset, now=NOW)
    for rule in RuleGenerator(vocab, SEED + 1).rules(50):
        _same(con, dataset, rule)


def _rule(*conditions, match="all", events=()):
    rule = {"version": 1, "events": list(events)}
    if conditions:
        rule["attributes"] = {"match": match, "conditions": list(conditions)}
    return rule


def _c(attribute, operator, value=None):
    condition = {"attribute": attribute, "operator": operator}
    if value is not None:
        condition["value"] = value
    return condition


def test_dates_are_days_in_the_account_time_zone(world):
    """NOW is 2024-03-30 23:30 UTC, already the 31st in Zagreb: "today" is the 31st there."""
    con = _duck(world["ann"].account)
    account = world["ann"].account
    ann, bob = world["ann"].pk, world["bob"].pk
    # ann was seen 23:10 UTC (the 31st, 00:10 in Zagreb), bob 22:00 UTC (the 30th, 23:00 there).
    assert _same(con, account, _rule(_c("custom.seen", "was", {"amount": 0, "unit": "days"}))) == [ann]
    assert _same(con, account, _rule(_c("custom.seen", "was", {"amount": 1, "unit": "days"}))) == [bob]
    assert _same(con, account, _rule(_c("created_at", "was_within", {"amount": 0, "unit": "days"}))) == [ann]
    assert _same(con, account, _rule(_c("birth_date", "until", "2000-02-29"))) == [ann, bob]
    assert _same(con, account, _rule(_c("birth_date", "is", "2000-02-29"))) == [ann]
    assert _same(con, account, _rule(_c("custom.signup", "will_be_in", {"amount": 1, "unit": "days"}))) == [
        bob
    ]
    assert _same(con, account, _rule(_c("custom.signup", "was", {"amount": 1, "unit": "months"}))) == [ann]
    assert _same(con, account, _rule(_c("custom.seen", "after", "2024-03-30T22:00:00Z"))) == [ann]
    assert _same(con, account, _rule(_c("custom.seen", "is", "2024-03-30T22:00:00Z"))) == [bob]


def test_empty_values_match_the_negative_operators(world):
    account = world["ann"].account
    Profile.objects.create(account=account, first_name="", attributes={"plan": None, "spend": None})
    Profile.objects.create(account=account, first_name="Eve", attributes={"plan": "", "vip": None})
    con = _duck(account)
    everyone = sorted(Profile.objects.filter(account=account).values_list("pk", flat=True))
    for rule in (
        _rule(_c("first_name", "is_empty")),
        _rule(_c("first_name", "not_contains", "an")),
        _rule(_c("first_name", "is_not", "ann")),
        _rule(_c("first_name", "not_in", ["ANN", "bob"])),
        _rule(_c("middle_name", "starts_with", "a")),
        _rule(_c("custom.plan", "is_empty")),
        _rule(_c("custom.plan", "is_not_empty")),
        _rule(_c("custom.plan", "is_not", "gold")),
        _rule(_c("custom.plan", "not_contains", "L")),
        _rule(_c("custom.spend", "lt", 100)),
        _rule(_c("custom.spend", "is_not", 50)),
        _rule(_c("custom.visits", "not_in", [3, 4])),
        _rule(_c("custom.vip", "is_not", True)),
        _rule(_c("custom.vip", "is_empty")),
        _rule(_c("birth_date", "is_not", "2000-02-29")),
        _rule(_c("birth_date", "was_more_than", {"amount": 1, "unit": "weeks"})),
        _rule(_c("company", "is_not", "acme ltd")),
        _rule(_c("company", "is_empty")),
        _rule(_c("email", "is_empty")),
        _rule(_c("email", "not_contains", "EXAMPLE")),
        _rule(_c("tags", "not_in", ["vip"])),
        _rule(_c("tags", "is_empty")),
        _rule(_c("created_at", "is_empty")),
        _rule(_c("created_at", "is_not_empty")),
    ):
        ids = _same(con, account, rule)
        negative = rule["attributes"]["conditions"][0]["operator"]
        if negative in ("is_not", "not_in", "not_contains"):
            positive = {"is_not": "is", "not_in": "in", "not_contains": "contains"}[negative]
            opposite = dict(
                rule,
                attributes={
                    "match": "all",
                    "conditions": [dict(rule["attributes"]["conditions"][0], operator=positive)],
                },
            )
            assert sorted(ids + _same(con, account, opposite)) == everyone, rule
    # "" is a value of a custom text attribute (only missing and null are empty), as in the ORM.
    assert len(_same(con, account, _rule(_c("custom.plan", "is_empty")))) == 2


def test_clauses_that_admit_zero_include_profiles_without_events(world):
    account = world["ann"].account
    con = _duck(account)
    ann, bob, cid = world["ann"].pk, world["bob"].pk, world["cid"].pk
    week = {"operator": "within_last", "amount": 7, "unit": "days"}

    def purchase(**clause):
        return {"event": "Purchase", **clause}

    assert _same(
        con, account, _rule(events=[purchase(occurrence={"operator": "lt", "count": 1}, time=week)])
    ) == [
        bob,
        cid,
    ]
    assert _same(con, account, _rule(events=[purchase(occurrence={"operator": "equals", "count": 0})])) == [
        cid
    ]
    assert _same(con, account, _rule(events=[purchase(performed=False, time=week)])) == [bob, cid]
    assert _same(
        con, account, _rule(events=[purchase(occurrence={"operator": "lte", "count": 2}, time=week)])
    ) == [
        ann,
        bob,
        cid,
    ]
    assert _same(con, account, _rule(events=[purchase(occurrence={"operator": "gte", "count": 0})])) == [
        ann,
        bob,
        cid,
    ]
    assert _same(
        con, account, _rule(events=[purchase(performed=False, occurrence={"operator": "gt", "count": 2})])
    ) == [bob, cid]
    # Property conditions count only the events that have them; their negation includes the
    # events without the property.
    electronics = [{"property": "category", "operator": "is", "value": "ELECTRONICS"}]
    assert _same(
        con,
        account,
        _rule(events=[purchase(properties=electronics, occurrence={"operator": "equals", "count": 3})]),
    ) == [ann]
    not_books = [{"property": "category", "operator": "is_not", "value": "books"}]
    assert _same(con, account, _rule(events=[purchase(properties=not_books)])) == [ann]
    cheap = [{"property": "amount", "operator": "lt", "value": 50}]
    assert _same(con, account, _rule(events=[purchase(properties=cheap, performed=False)])) == [ann, cid]
    # Window edges: within_last is "at or after", before_last strictly before.
    edge = {"operator": "within_last", "amount": 6, "unit": "days"}
    assert _same(
        con, account, _rule(events=[purchase(time=edge, occurrence={"operator": "equals", "count": 2})])
    ) == [ann]
    before = {"operator": "before_last", "amount": 6, "unit": "days"}
    assert _same(con, account, _rule(events=[purchase(time=before)])) == [ann, bob]


def test_do_not_contact_per_channel_and_case_insensitive_tags(world):
    from dnc.models import DncEntry, DncEntryAccount

    account = world["ann"].account
    for kind, value, channel in (("phone", "+385911234567", "SMS"), ("domain", "test.org", "")):
        entry = DncEntry.objects.create(kind=kind, value=value, channel=channel)
        DncEntryAccount.objects.create(entry=entry, account=account, kind=kind, value=value, channel=channel)
    con = _duck(account)
    ann, bob, cid = world["ann"].pk, world["bob"].pk, world["cid"].pk
    assert _same(con, account, _rule(_c("dnc", "is", "SMS"))) == [ann, bob]
    assert _same(con, account, _rule(_c("dnc", "is", "EMAIL"))) == [bob]
    assert _same(con, account, _rule(_c("dnc", "is", "any"))) == [ann, bob]
    assert _same(con, account, _rule(_c("dnc", "is_not", "EMAIL"))) == [ann, cid]
    assert _same(con, account, _rule(_c("tags", "is", "vip"))) == [ann]
    assert _same(con, account, _rule(_c("tags", "in", ["NEWSLETTER", "nope"]))) == [bob]
    assert _same(
        con,
        account,
        _rule(_c("city", "in", ["london", "PARIS"]), _c("phone", "ends_with", "567"), match="any"),
    ) == [ann, bob]
    assert _same(con, account, _rule(_c("email", "starts_with", "ANN@"))) == [ann]


def test_an_invalid_rule_is_refused(world):
    con = _duck(world["ann"].account)
    with pytest.raises(selectors.RuleErrors):
        duck_sql.rule_count(con, _rule(_c("nope", "is", "x")), account=world["ann"].account, now=NOW)
