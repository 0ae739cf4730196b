"""Every operator of every type, table-driven, on whichever database the run uses (SQLite and
PostgreSQL in CI). The world: ann (everything set), bob (some), cid (nothing); see conftest."""

from __future__ import annotations

import pytest

from segments import selectors


def names(world, queryset) -> set[str]:
    ids = set(queryset.values_list("pk", flat=True))
    return {name for name, profile in world.items() if profile.pk in ids}


def cond(attribute, operator, value=None):
    c = {"attribute": attribute, "operator": operator}
    if value is not None:
        c["value"] = value
    return {"version": 1, "attributes": {"match": "all", "conditions": [c]}}


ATTRIBUTE_CASES = [
    # standard text: case-insensitive; negatives include empty values
    ("city", "is", "london", {"ann"}),
    ("city", "is_not", "LONDON", {"bob", "cid"}),
    ("city", "in", ["london", "paris"], {"ann", "bob"}),
    ("city", "not_in", ["london", "paris"], {"cid"}),
    ("city", "is_empty", None, {"cid"}),
    ("city", "is_not_empty", None, {"ann", "bob"}),
    ("city", "starts_with", "lon", {"ann"}),
    ("city", "ends_with", "RIS", {"bob"}),
    ("city", "contains", "o", {"ann"}),
    ("city", "not_contains", "o", {"bob", "cid"}),
    ("last_name", "is", "smith", {"ann"}),
    ("last_name", "is_not", "smith", {"bob", "cid"}),
    ("first_name", "contains", "%", set()),  # wildcards are literal
    # choices
    ("type", "is", "customer", {"ann"}),
    ("type", "is_not", "customer", {"bob", "cid"}),
    ("gender", "is_empty", None, {"bob", "cid"}),
    ("gender", "in", ["female", "male"], {"ann"}),
    # standard date (nullable)
    ("birth_date", "before", "2000-02-29", {"bob"}),
    ("birth_date", "until", "2000-02-29", {"ann", "bob"}),
    ("birth_date", "since", "2000-02-29", {"ann"}),
    ("birth_date", "after", "2000-02-29", set()),
    ("birth_date", "is", "2000-02-29", {"ann"}),
    ("birth_date", "is_not", "2000-02-29", {"bob", "cid"}),
    ("birth_date", "is_empty", None, {"cid"}),
    ("birth_date", "was_more_than", {"amount": 1, "unit": "days"}, {"ann", "bob"}),
    # custom decimal / integer
    ("custom.spend", "gt", 100, {"ann"}),
    ("custom.spend", "gte", 50, {"ann", "bob"}),
    ("custom.spend", "lt", 150.5, {"bob"}),
    ("custom.spend", "lte", "150.5", {"ann", "bob"}),
    ("custom.spend", "is", 50, {"bob"}),
    ("custom.spend", "is_not", 50, {"ann", "cid"}),
    ("custom.spend", "in", [50, 150.5], {"ann", "bob"}),
    ("custom.spend", "not_in", [50], {"ann", "cid"}),
    ("custom.spend", "is_empty", None, {"cid"}),
    ("custom.spend", "is_not_empty", None, {"ann", "bob"}),
    ("custom.visits", "gte", 10, {"bob"}),
    ("custom.visits", "lt", 0, set()),
    ("custom.visits", "is", "3", {"ann"}),
    # custom boolean
    ("custom.vip", "is", True, {"ann"}),
    ("custom.vip", "is", "false", {"bob"}),
    ("custom.vip", "is_not", True, {"bob", "cid"}),
    ("custom.vip", "is_empty", None, {"cid"}),
    # custom text
    ("custom.plan", "is", "GOLD", {"ann"}),
    ("custom.plan", "is_not", "gold", {"bob", "cid"}),
    ("custom.plan", "starts_with", "sil", {"bob"}),
    ("custom.plan", "ends_with", "LD", {"ann"}),
    ("custom.plan", "contains", "l", {"ann", "bob"}),
    ("custom.plan", "not_contains", "ilv", {"ann", "cid"}),
    ("custom.plan", "in", ["gold", "bronze"], {"ann"}),
    ("custom.plan", "not_in", ["gold", "bronze"], {"bob", "cid"}),
    # custom date: today is 2024-03-31 in Zagreb (still the 30th in UTC)
    ("custom.signup", "was", {"amount": 1, "unit": "months"}, {"ann"}),  # Mar 31 - 1 month = Feb 29
    ("custom.signup", "was_within", {"amount": 1, "unit": "months"}, {"ann"}),
    ("custom.signup", "was_more_than", {"amount": 1, "unit": "months"}, set()),
    ("custom.signup", "was_more_than", {"amount": 4, "unit": "weeks"}, {"ann"}),
    ("custom.signup", "will_be_in", {"amount": 1, "unit": "days"}, {"bob"}),
    ("custom.signup", "will_be_within", {"amount": 1, "unit": "weeks"}, {"bob"}),
    ("custom.signup", "will_be_more_than", {"amount": 0, "unit": "days"}, {"bob"}),
    ("custom.signup", "will_be_more_than", {"amount": 1, "unit": "days"}, set()),
    ("custom.signup", "before", "2024-03-01", {"ann"}),
    ("custom.signup", "until", "2024-02-29", {"ann"}),
    ("custom.signup", "since", "2024-02-29", {"ann", "bob"}),
    ("custom.signup", "after", "2024-02-29", {"bob"}),
    ("custom.signup", "is", "2024-04-01", {"bob"}),
    ("custom.signup", "is_not", "2024-04-01", {"ann", "cid"}),
    ("custom.signup", "is_empty", None, {"cid"}),
    # custom date-time: ann 00:10 today in Zagreb (23:10 UTC yesterday), bob 23:00 yesterday
    ("custom.seen", "was", {"amount": 0, "unit": "days"}, {"ann"}),
    ("custom.seen", "was", {"amount": 1, "unit": "days"}, {"bob"}),
    ("custom.seen", "was_within", {"amount": 1, "unit": "days"}, {"ann", "bob"}),
    ("custom.seen", "after", "2024-03-30T23:00:00Z", {"ann"}),
    # without an offset, a wall time in the account's zone: 00:05 on 31 March in Zagreb is 23:05 UTC
    ("custom.seen", "before", "2024-03-31T00:05", {"bob"}),
    ("custom.seen", "before", "2024-03-30T23:00", set()),  # 22:00 UTC: bob is not before it
    ("custom.seen", "is_not_empty", None, {"ann", "bob"}),
    # standard date-time
    ("created_at", "was", {"amount": 0, "unit": "days"}, {"ann"}),
    (
        "created_at",
        "will_be_more_than",
        {"amount": 0, "unit": "days"},
        {"bob", "cid"},
    ),  # created "now", unfrozen
    ("created_at", "is_empty", None, set()),
    # tags, names matched regardless of case
    ("tags", "is", "vip", {"ann"}),
    ("tags", "is_not", "VIP", {"bob", "cid"}),
    ("tags", "in", ["vip", "newsletter"], {"ann", "bob"}),
    ("tags", "not_in", ["vip", "nonexistent"], {"bob", "cid"}),
    ("tags", "is_empty", None, {"cid"}),
    ("tags", "is_not_empty", None, {"ann", "bob"}),
    # contacts: any of the profile's phones / emails
    ("email", "ends_with", "@EXAMPLE.com", {"ann"}),
    ("email", "not_contains", "example", {"bob", "cid"}),
    ("email", "is_empty", None, {"cid"}),
    ("email", "is", "bob@test.org", {"bob"}),
    ("phone", "starts_with", "+385", {"ann"}),
    ("phone", "is_empty", None, {"bob", "cid"}),
    ("phone", "is_not_empty", None, {"ann"}),
    # company name
    ("company", "is", "acme ltd", {"ann"}),
    ("company", "is_not", "acme ltd", {"bob", "cid"}),
    ("company", "starts_with", "ac", {"ann"}),
    ("company", "is_empty", None, {"bob", "cid"}),
]


@pytest.mark.parametrize(("attribute", "operator", "value", "expected"), ATTRIBUTE_CASES)
def test_it_applies_each_attribute_operator(world, account, attribute, operator, value, expected):
    rule = cond(attribute, operator, value)
    assert selectors.rule_validate(account=account, rule=rule) == []
    assert names(world, selectors.rule_queryset(account=account, rule=rule)) == expected
    assert selectors.rule_count(account=account, rule=rule, cached=False) == len(expected)


def purchase(**clause):
    return {"version": 1, "events": [{"event": "Purchase", **clause}]}


EVENT_CASES = [
    ({}, {"ann", "bob"}),
    ({"performed": False}, {"cid"}),
    ({"occurrence": {"operator": "gte", "count": 3}}, {"ann"}),
    ({"occurrence": {"operator": "gt", "count": 1}}, {"ann"}),
    ({"occurrence": {"operator": "equals", "count": 1}}, {"bob"}),
    ({"occurrence": {"operator": "equals", "count": 0}}, {"cid"}),
    ({"occurrence": {"operator": "lt", "count": 3}}, {"bob", "cid"}),
    ({"occurrence": {"operator": "lte", "count": 1}}, {"bob", "cid"}),
    ({"occurrence": {"operator": "lt", "count": 0}}, set()),
    ({"occurrence": {"operator": "gte", "count": 0}}, {"ann", "bob", "cid"}),
    ({"occurrence": {"operator": "gte", "count": 3}, "performed": False}, {"bob", "cid"}),
    # "did not perform at least 0 times" is nobody (Django's ~Q() would have been everybody)
    ({"occurrence": {"operator": "gte", "count": 0}, "performed": False}, set()),
    ({"time": {"operator": "within_last", "amount": 30, "unit": "days"}}, {"ann"}),
    (
        {
            "time": {"operator": "within_last", "amount": 30, "unit": "days"},
            "occurrence": {"operator": "equals", "count": 0},
        },
        {"bob", "cid"},
    ),
    ({"time": {"operator": "within_last", "amount": 72, "unit": "hours"}}, {"ann"}),
    ({"time": {"operator": "within_last", "amount": 60, "unit": "minutes"}}, set()),
    ({"time": {"operator": "before_last", "amount": 30, "unit": "days"}}, {"bob"}),
    (
        {
            "time": {"operator": "between_last", "from": 5, "to": 20, "unit": "days"},
            "occurrence": {"operator": "equals", "count": 2},
        },
        {"ann"},
    ),
    ({"time": {"operator": "after", "value": "2024-03-28T23:30:00Z"}}, set()),  # strict: exactly 2 days ago
    ({"time": {"operator": "after", "value": "2024-03-28T23:29:00Z"}}, {"ann"}),
    ({"time": {"operator": "before", "value": "2024-02-19T23:30:00Z"}}, set()),  # strict
    (
        {"time": {"operator": "between", "start": "2024-02-19T23:30:00Z", "end": "2024-03-18T23:30:00Z"}},
        {"ann", "bob"},
    ),
    ({"properties": [{"property": "category", "operator": "is", "value": "electronics"}]}, {"ann"}),
    ({"properties": [{"property": "CATEGORY", "operator": "is_not", "value": "electronics"}]}, {"bob"}),
    (
        {
            "properties": [{"property": "amount", "operator": "gte", "value": 50}],
            "occurrence": {"operator": "gte", "count": 3},
        },
        {"ann"},
    ),
    ({"properties": [{"property": "amount", "operator": "is_empty"}]}, set()),
]


@pytest.mark.parametrize(("clause", "expected"), EVENT_CASES)
def test_it_applies_each_event_clause(world, account, clause, expected):
    rule = purchase(**clause)
    assert selectors.rule_validate(account=account, rule=rule) == []
    assert names(world, selectors.rule_queryset(account=account, rule=rule)) == expected


def test_it_matches_everyone_of_the_account_for_an_empty_rule(world, account):
    assert names(world, selectors.rule_queryset(account=account, rule={})) == {"ann", "bob", "cid"}
    assert names(
        world,
        selectors.rule_queryset(
            account=account, rule={"version": 1, "attributes": {"match": "any", "conditions": []}}
        ),
    ) == {"ann", "bob", "cid"}


def test_it_nests_groups_and_ands_events(world, account):
    rule = {
        "version": 1,
        "attributes": {
            "match": "any",
            "conditions": [
                {"attribute": "city", "operator": "is", "value": "Paris"},
                {
                    "match": "all",
                    "conditions": [
                        {"attribute": "tags", "operator": "is", "value": "vip"},
                        {
                            "match": "any",
                            "conditions": [{"attribute": "custom.spend", "operator": "gt", "value": 100}],
                        },
                    ],
                },
            ],
        },
        "events": [{"event": "purchase", "occurrence": {"operator": "gte", "count": 1}}],
    }
    assert names(world, selectors.rule_queryset(account=account, rule=rule)) == {"ann", "bob"}
    rule["events"].append(
        {"event": "Purchase", "time": {"operator": "within_last", "amount": 30, "unit": "days"}}
    )
    assert names(world, selectors.rule_queryset(account=account, rule=rule)) == {"ann"}


def test_it_never_reaches_another_account(world, other_account):
    assert selectors.rule_validate(account=other_account, rule=cond("city", "is", "London")) == []
    assert names(
        world, selectors.rule_queryset(account=other_account, rule=cond("city", "is", "London"))
    ) == {"stranger"}


def test_it_counts_zero(world, account):
    assert selectors.rule_count(account=account, rule=cond("city", "is", "Nowhere"), cached=False) == 0
    assert selectors.rule_count(account=account, rule=cond("city", "is", "Nowhere")) == 0


ERROR_CASES = [
    ({"version": 2}, "version: expected 1"),
    ({"attributes": {"match": "some", "conditions": []}}, "attributes.match: expected all or any"),
    (cond("shoe_size", "is", 3), "attributes.conditions[0].attribute: unknown attribute 'shoe_size'"),
    (cond("city", "gt", 3), "attributes.conditions[0].operator: 'gt' is not an operator for City"),
    (cond("custom.signup", "is", "soon"), "attributes.conditions[0].value: expected a date"),
    (cond("custom.spend", "gt", "lots"), "attributes.conditions[0].value: expected a number"),
    (cond("custom.visits", "is", 1.5), "attributes.conditions[0].value: expected a whole number"),
    (cond("city", "in", []), "attributes.conditions[0].value: expected a non-empty list"),
    (cond("city", "in", ["a", ""]), "attributes.conditions[0].value[1]: expected a value"),
    (cond("city", "is", ""), "attributes.conditions[0].value: expected a value"),
    (cond("city", "is", ["a"]), "attributes.conditions[0].value: expected one value"),
    (
        cond("custom.signup", "was", {"amount": 2, "unit": "years"}),
        "attributes.conditions[0].value.unit: expected one of",
    ),
    (
        cond("custom.signup", "was", {"amount": -1, "unit": "days"}),
        "attributes.conditions[0].value.amount: expected a whole number",
    ),
    (cond("type", "is", "robot"), "attributes.conditions[0].value: expected one of: lead, customer"),
    (cond("dnc", "is", "pigeon"), "attributes.conditions[0].value: expected one of"),
    ({"events": [{"event": "Nope"}]}, "events[0].event: unknown event 'Nope'"),
    (
        {"events": [{"event": "Purchase", "occurrence": {"operator": "gte", "count": -1}}]},
        "events[0].occurrence.count",
    ),
    (
        {
            "events": [
                {"event": "Purchase", "time": {"operator": "within_last", "amount": 3, "unit": "months"}}
            ]
        },
        "events[0].time.unit",
    ),
    (
        {
            "events": [
                {
                    "event": "Purchase",
                    "time": {"operator": "between_last", "from": 5, "to": 3, "unit": "days"},
                }
            ]
        },
        "events[0].time: expected whole numbers from < to",
    ),
    (
        {"events": [{"event": "Purchase", "time": {"operator": "after", "value": "tomorrow"}}]},
        "events[0].time.value",
    ),
    (
        {
            "events": [
                {"event": "Purchase", "properties": [{"property": "colour", "operator": "is", "value": "x"}]}
            ]
        },
        "events[0].properties[0].property: Purchase has no property 'colour'",
    ),
    (
        {
            "events": [
                {"event": "Purchase", "properties": [{"property": "amount", "operator": "is", "value": "x"}]}
            ]
        },
        "events[0].properties[0].value: expected a number",
    ),
    ({"events": [{"event": "Purchase"}] * 6}, "events: a rule has at most 5 event clauses"),
    (
        {"attributes": {"match": "all", "conditions": [{"attribute": "city", "operator": "is_empty"}] * 26}},
        "attributes.conditions[25]: a rule has at most 25",
    ),
    (
        {"attributes": {"conditions": [{"conditions": [{"conditions": [{"conditions": []}]}]}]}},
        "attributes.conditions[0].conditions[0].conditions[0]: groups nest at most 3 levels",
    ),
    ("not a rule", "rule: expected an object"),
]


@pytest.mark.parametrize(("rule", "message"), ERROR_CASES)
def test_it_names_the_path_of_each_error(world, account, rule, message):
    errors = selectors.rule_validate(account=account, rule=rule)
    assert any(error.startswith(message) for error in errors), errors


def test_it_refuses_to_compile_an_invalid_rule(world, account):
    with pytest.raises(selectors.RuleErrors) as raised:
        selectors.rule_queryset(account=account, rule=cond("custom.signup", "is", "soon"))
    assert raised.value.errors == ["attributes.conditions[0].value: expected a date (YYYY-MM-DD)"]


def test_it_explains_which_conditions_hold(world, account):
    rule = {
        "version": 1,
        "attributes": {
            "match": "all",
            "conditions": [
                {"attribute": "city", "operator": "is", "value": "London"},
                {
                    "match": "any",
                    "conditions": [
                        {"attribute": "tags", "operator": "is", "value": "Newsletter"},
                        {"attribute": "custom.vip", "operator": "is", "value": True},
                    ],
                },
            ],
        },
        "events": [{"event": "Purchase", "occurrence": {"operator": "gte", "count": 5}}],
    }
    result = selectors.rule_explain(account, rule, world["ann"])
    assert result["matches"] is False
    assert result["attributes"]["holds"] is True
    city, group = result["attributes"]["children"]
    assert (city["path"], city["holds"]) == ("attributes.conditions[0]", True)
    assert [c["holds"] for c in group["children"]] == [False, True]
    assert result["events"][0]["holds"] is False
    assert selectors.rule_explain(account, {"version": 1}, world["cid"])["matches"] is True
