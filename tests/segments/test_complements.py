"""Complements compile as NOT EXISTS anti-joins and `in` as one `UPPER(col) IN (…)`: the same
people as before, checked where the shapes could differ (no rows, NULL/JSON null values, other
accounts, complements inside OR groups, odd case-folding), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from audience import services as audience_services
from audience.models import Contact, Event
from segments import selectors
from tests.segments.conftest import NOW
from tests.segments.test_rules import cond, names


def rule(*conditions, events=(), match="all"):
    out = {"version": 1, "events": list(events)}
    if conditions:
        out["attributes"] = {"match": match, "conditions": list(conditions)}
    return out


def c(attribute, operator, value=None):
    return {"attribute": attribute, "operator": operator, **({} if value is None else {"value": value})}


@pytest.fixture
def dee(world, account):
    """A fourth profile whose only Purchase (yesterday) has no category."""
    dee = audience_services.profile_create(account=account, fields={"first_name": "Dee", "city": "Straße"})
    Event.objects.create(
        account=account,
        profile=dee,
        name="Purchase",
        occurred_at=NOW - dt.timedelta(days=1),
        properties={"amount": 5},
    )
    world["dee"] = dee
    return world


COMPLEMENTS = [
    # (positive, negative): the negative must be exactly everyone else of the account
    (c("tags", "is", "vip"), c("tags", "is_not", "vip")),
    (c("tags", "in", ["nonexistent"]), c("tags", "not_in", ["nonexistent"])),
    (c("tags", "is_not_empty"), c("tags", "is_empty")),
    (c("email", "is", "ann@other.org"), c("email", "is_not", "ann@other.org")),  # another account's
    (c("email", "in", ["bob@test.org"]), c("email", "not_in", ["bob@test.org"])),
    (c("phone", "is_not_empty"), c("phone", "is_empty")),
    (c("email", "contains", "example"), c("email", "not_contains", "example")),
    (c("city", "in", ["london", "straße"]), c("city", "not_in", ["london", "straße"])),
    (c("custom.plan", "in", ["gold", "SILVER"]), c("custom.plan", "not_in", ["gold", "SILVER"])),
    (c("company", "in", ["ACME LTD"]), c("company", "not_in", ["ACME LTD"])),
    (c("dnc", "is", "any"), c("dnc", "is_not", "any")),
]


@pytest.mark.parametrize(("positive", "negative"), COMPLEMENTS)
def test_a_negative_is_the_exact_complement(dee, account, positive, negative):
    everyone = names(dee, selectors.rule_queryset(account=account, rule={}))
    yes = names(dee, selectors.rule_queryset(account=account, rule=rule(positive)))
    no = names(dee, selectors.rule_queryset(account=account, rule=rule(negative)))
    assert yes | no == everyone and not yes & no
    assert selectors.rule_count(account=account, rule=rule(negative), cached=False) == len(no)


def purchase(**clause):
    return {"event": "Purchase", **clause}


ELECTRONICS = [{"property": "category", "operator": "is", "value": "Electronics"}]
EVENT_COMPLEMENTS = [
    # ann: 3 Electronics purchases in the last 12 days; bob: 1 Books 40 days ago;
    # dee: 1 purchase yesterday without a category; cid: none.
    (purchase(), {"ann", "bob", "dee"}),
    (purchase(properties=ELECTRONICS), {"ann"}),
    (
        purchase(properties=[{"property": "category", "operator": "is_not", "value": "Electronics"}]),
        {"bob", "dee"},
    ),
    (purchase(properties=[{"property": "category", "operator": "is_empty"}]), {"dee"}),
    (purchase(time={"operator": "within_last", "amount": 30, "unit": "days"}), {"ann", "dee"}),
    (purchase(occurrence={"operator": "gte", "count": 2}), {"ann"}),
]


@pytest.mark.parametrize(("clause", "expected"), EVENT_COMPLEMENTS)
def test_performed_false_is_the_exact_complement(dee, account, clause, expected):
    assert names(dee, selectors.rule_queryset(account=account, rule=rule(events=[clause]))) == expected
    negative = rule(events=[{**clause, "performed": False}])
    assert (
        names(dee, selectors.rule_queryset(account=account, rule=negative))
        == {"ann", "bob", "cid", "dee"} - expected
    )
    assert selectors.rule_count(account=account, rule=negative, cached=False) == 4 - len(expected)


def test_zero_admitting_counts_include_people_without_events(dee, account):
    lt2 = purchase(occurrence={"operator": "lt", "count": 2}, properties=ELECTRONICS)
    assert names(dee, selectors.rule_queryset(account=account, rule=rule(events=[lt2]))) == {
        "bob",
        "cid",
        "dee",
    }
    zero = purchase(occurrence={"operator": "equals", "count": 0}, properties=ELECTRONICS)
    assert names(dee, selectors.rule_queryset(account=account, rule=rule(events=[zero]))) == {
        "bob",
        "cid",
        "dee",
    }


def test_complements_inside_an_any_group_and_with_other_conditions(dee, account):
    either = rule(c("city", "is", "paris"), c("tags", "is_empty"), match="any")
    assert names(dee, selectors.rule_queryset(account=account, rule=either)) == {"bob", "cid", "dee"}
    inactive = purchase(performed=False, time={"operator": "within_last", "amount": 30, "unit": "days"})
    both = rule(c("email", "is_empty"), events=[inactive])
    assert names(dee, selectors.rule_queryset(account=account, rule=both)) == {"cid"}
    nested = rule(c("city", "is_not_empty"), {"match": "any", "conditions": [c("tags", "is_not", "vip")]})
    assert names(dee, selectors.rule_queryset(account=account, rule=nested)) == {"bob", "dee"}


def test_in_is_the_union_of_is(dee, account):
    """`in` upper-cases both sides in the database, as `is` does (not Python's str.upper, which
    turns ß into SS), so its result is the union of the `is` results whatever the values."""
    values = ["LONDON", "straße", "STRASSE", "pAris", "nowhere"]
    union = set()
    for value in values:
        union |= names(dee, selectors.rule_queryset(account=account, rule=cond("city", "is", value)))
    assert names(dee, selectors.rule_queryset(account=account, rule=cond("city", "in", values))) == union
    assert {"ann", "bob", "dee"} <= union


def test_explain_agrees_with_the_anti_joins(dee, account):
    the_rule = rule(c("tags", "is_not", "vip"), events=[purchase(performed=False, properties=ELECTRONICS)])
    matching = names(dee, selectors.rule_queryset(account=account, rule=the_rule))
    assert matching == {"bob", "cid", "dee"}
    for name, profile in dee.items():
        if name != "stranger":
            assert selectors.rule_explain(account, the_rule, profile)["matches"] is (name in matching)


COLUMN_NEGATIVES = [
    c("city", "is_not", "london"),
    c("city", "not_in", ["LONDON", "straße"]),
    c("city", "not_contains", "ar"),
    c("city", "is_not_empty"),
    c("last_name", "is_not", "smith"),  # empty for bob, cid and dee
    c("type", "is_not", "customer"),
    c("gender", "not_in", ["female"]),
    c("birth_date", "is_not", "2000-02-29"),  # NULL for cid and dee
    c("birth_date", "is_not_empty"),
    c("created_at", "is_not_empty"),  # the positive is no rows at all (never empty)
]


@pytest.mark.parametrize("negative", COLUMN_NEGATIVES)
def test_a_column_negative_is_counted_as_everyone_minus_the_positive(dee, account, negative):
    """The count takes the shortcut, and it equals the rows of the negative's own query —
    empty strings and NULLs included — on either database."""
    assert isinstance(selectors._countable(account, rule(negative)), selectors.ComplementCount)
    expected = selectors.rule_queryset(account=account, rule=rule(negative)).count()
    assert selectors.rule_count(account=account, rule=rule(negative), cached=False) == expected


def test_the_shortcut_is_only_for_one_column_negative(dee, account):
    for other in (
        rule(c("custom.plan", "is_not", "gold")),
        rule(c("city", "is_not", "london"), c("city", "is_not", "paris")),
        rule(c("city", "is", "london")),
        rule(c("city", "is_not", "london"), events=[purchase()]),
    ):
        assert not isinstance(selectors._countable(account, other), selectors.ComplementCount)


ANY_GROUPS = [
    (c("city", "is", "london"), c("custom.spend", "gte", 100)),  # ann matches both: counted once
    (c("city", "is", "paris"), c("tags", "is", "vip"), c("email", "ends_with", "@test.org")),
    (c("custom.plan", "is_empty"), c("birth_date", "is_empty")),  # JSON/NULL empties
    (c("city", "in", ["nowhere"]), c("company", "is", "nobody")),  # zero
    (c("created_at", "is_empty"), c("city", "is", "paris")),  # a branch of no rows at all
]


@pytest.mark.parametrize("conditions", ANY_GROUPS)
def test_an_any_group_is_counted_as_a_union_of_its_conditions(dee, account, conditions):
    the_rule = rule(*conditions, match="any")
    assert not isinstance(selectors._countable(account, the_rule), selectors.ComplementCount)
    expected = selectors.rule_queryset(account=account, rule=the_rule).count()
    assert selectors.rule_count(account=account, rule=the_rule, cached=False) == expected
    alone = [names(dee, selectors.rule_queryset(account=account, rule=rule(one))) for one in conditions]
    assert expected == len(set().union(*alone))
    # Both forms the count chooses between (by the planner's price on PostgreSQL) are exact.
    cheaper = selectors._countable(account, the_rule)
    assert isinstance(cheaper, selectors.CheaperCount)
    assert [form.count() for form in cheaper.countables] == [expected] * len(cheaper.countables)


CONTACT_CONDITIONS = [
    c("email", "ends_with", "@EXAMPLE.com"),
    c("email", "is", "ann@other.org"),  # another account's: nobody here
    c("email", "is_not", "bob@test.org"),
    c("email", "not_in", ["bob@test.org", "ann@example.com"]),
    c("email", "contains", "e"),
    c("email", "not_contains", "example"),
    c("email", "is_empty"),
    c("email", "is_not_empty"),
    c("phone", "starts_with", "+385"),
    c("phone", "is_empty"),
]


@pytest.mark.parametrize("condition", CONTACT_CONDITIONS)
def test_a_contact_condition_alone_is_counted_from_the_contacts(dee, account, condition):
    """Counted as the matching contacts' distinct profiles (or everyone minus them), with no join
    to the profiles: the same number as the rule's own query, on either database."""
    assert isinstance(selectors._countable(account, rule(condition)), selectors.SerialCount)
    expected = selectors.rule_queryset(account=account, rule=rule(condition)).count()
    assert selectors.rule_count(account=account, rule=rule(condition), cached=False) == expected


def test_a_contact_of_another_accounts_profile_is_refused(dee, account, other_account):
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(account=other_account, profile=dee["ann"], kind="email", value="x@y.org")
    contact = Contact.objects.filter(profile=dee["ann"]).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.filter(pk=contact.pk).update(account=other_account)
