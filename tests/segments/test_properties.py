"""Property tests of the rule algebra over random small worlds (hypothesis):
`is_not X` + `is X` = all; |A or B| = |A| + |B| − |A and B|; a group of one condition = the condition."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audience import services as audience_services
from audience.models import Profile
from segments import selectors

CITIES = ["London", "Paris", "", "zagreb"]
PLANS = ["gold", "Silver", None]

pytestmark = pytest.mark.django_db

conditions = st.one_of(
    st.builds(
        lambda v: {"attribute": "city", "operator": "is", "value": v},
        st.sampled_from(["london", "Paris", "Zagreb"]),
    ),
    st.builds(
        lambda v: {"attribute": "city", "operator": "starts_with", "value": v},
        st.sampled_from(["l", "pa", "z"]),
    ),
    st.builds(lambda v: {"attribute": "custom.score", "operator": "gte", "value": v}, st.integers(-5, 15)),
    st.builds(
        lambda v: {"attribute": "custom.plan", "operator": "is", "value": v},
        st.sampled_from(["GOLD", "silver"]),
    ),
    st.builds(
        lambda v: {"attribute": "custom.plan", "operator": "in", "value": v},
        st.lists(st.sampled_from(["gold", "silver", "x"]), min_size=1, max_size=3),
    ),
    st.just({"attribute": "custom.score", "operator": "is_empty"}),
)
NEGATION = {"is": "is_not", "in": "not_in", "contains": "not_contains", "is_empty": "is_not_empty"}


@pytest.fixture
def people(account):
    audience_services.attribute_definition_create(account=account, name="score", type="integer")
    audience_services.attribute_definition_create(account=account, name="plan", type="text")
    for i in range(24):
        attributes = {}
        if i % 3:
            attributes["score"] = i - 5
        if PLANS[i % 3] is not None:
            attributes["plan"] = PLANS[i % 3]
        audience_services.profile_create(
            account=account, fields={"city": CITIES[i % 4]}, attributes=attributes
        )
    return Profile.objects.for_account(account).count()


def rule(*conds, match="all"):
    return {"version": 1, "attributes": {"match": match, "conditions": list(conds)}}


def count(account, the_rule):
    return selectors.rule_count(account=account, rule=the_rule, cached=False)


SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(condition=conditions)
def test_it_makes_each_negative_the_complement(account, people, condition):
    positive = condition
    op = positive["operator"]
    if op not in NEGATION:
        positive = {"attribute": "city", "operator": "contains", "value": "a"}
        op = "contains"
    negative = {**positive, "operator": NEGATION[op]}
    assert count(account, rule(positive)) + count(account, rule(negative)) == people


@SETTINGS
@given(a=conditions, b=conditions)
def test_it_counts_or_by_inclusion_exclusion(account, people, a, b):
    union = count(account, rule(a, b, match="any"))
    assert union == count(account, rule(a)) + count(account, rule(b)) - count(
        account, rule(a, b, match="all")
    )


@SETTINGS
@given(condition=conditions, match=st.sampled_from(["all", "any"]))
def test_it_treats_a_group_of_one_as_the_condition(account, people, condition, match):
    grouped = rule({"match": match, "conditions": [condition]})
    assert set(selectors.rule_queryset(account=account, rule=grouped)) == set(
        selectors.rule_queryset(account=account, rule=rule(condition))
    )
