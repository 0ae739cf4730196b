"""A JSON `null` stored as an event property or a custom attribute is an empty value (DESIGN, "The
rule language"): `is_empty` matches it, and every negative is the exact complement of its positive,
the same on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from audience import services as audience_services
from audience.models import Event, Profile
from segments import selectors
from tests.segments.conftest import NOW
from tests.segments.test_rules import names


@pytest.fixture
def nulls(world, account):
    """eve: a profile whose custom attributes are JSON null and whose only Purchase (yesterday)
    has JSON null properties."""
    eve = audience_services.profile_create(account=account, fields={"first_name": "Eve"})
    nulls = {name: None for name in ("spend", "visits", "vip", "signup", "seen", "plan")}
    Profile.objects.filter(pk=eve.pk).update(attributes=nulls)
    Event.objects.create(
        account=account,
        profile=eve,
        name="Purchase",
        occurred_at=NOW - dt.timedelta(days=1),
        properties={"category": None, "amount": None},
    )
    world["eve"] = eve
    return world


def attribute_rule(attribute, operator, value=None):
    condition = {"attribute": attribute, "operator": operator}
    if value is not None:
        condition["value"] = value
    return {"version": 1, "attributes": {"match": "all", "conditions": [condition]}}


def property_rule(prop, operator, value=None):
    condition = {"property": prop, "operator": operator}
    if value is not None:
        condition["value"] = value
    return {"version": 1, "events": [{"event": "Purchase", "properties": [condition]}]}


ATTRIBUTES = [
    ("custom.plan", "gold"),
    ("custom.spend", 50),
    ("custom.visits", 3),
    ("custom.vip", True),
    ("custom.signup", "2024-02-29"),
    ("custom.seen", "2024-03-30T23:10:00Z"),
]


@pytest.mark.parametrize(("attribute", "value"), ATTRIBUTES)
def test_a_null_custom_attribute_is_empty(nulls, account, attribute, value):
    def people(operator, value=None):
        return names(
            nulls, selectors.rule_queryset(account=account, rule=attribute_rule(attribute, operator, value))
        )

    everyone = {"ann", "bob", "cid", "eve"}
    assert "eve" in people("is_empty")
    assert "eve" not in people("is_not_empty")
    assert people("is_empty") | people("is_not_empty") == everyone
    assert "eve" in people("is_not", value)
    assert people("is", value) | people("is_not", value) == everyone
    assert not people("is", value) & people("is_not", value)


PROPERTIES = [("category", "Electronics"), ("amount", 100)]


@pytest.mark.parametrize(("prop", "value"), PROPERTIES)
def test_a_null_event_property_is_empty(nulls, account, prop, value):
    """ann's purchases are Electronics/100, bob's Books/20, eve's null/null; cid has none."""

    def people(operator, value=None):
        rule = property_rule(prop, operator, value)
        found = names(nulls, selectors.rule_queryset(account=account, rule=rule))
        assert selectors.rule_count(account=account, rule=rule, cached=False) == len(found)
        return found

    assert people("is_empty") == {"eve"}
    assert people("is_not_empty") == {"ann", "bob"}
    assert people("is", value) == {"ann"}
    assert people("is_not", value) == {"bob", "eve"}


def test_in_on_an_event_property_reads_the_text_of_the_key(nulls, account):
    """`in` compares the key's text (`->>`), as `is` does, and `not_in` includes the null."""
    values = ["electronics", "BOOKS"]
    assert names(
        nulls, selectors.rule_queryset(account=account, rule=property_rule("category", "in", values))
    ) == {
        "ann",
        "bob",
    }
    assert names(
        nulls, selectors.rule_queryset(account=account, rule=property_rule("category", "not_in", values))
    ) == {"eve"}
