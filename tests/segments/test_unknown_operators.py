"""An operator the compiler has no rule for raises UnknownOperator, whatever the attribute's family:
it never falls through to `contains` (phone, email), `between` (event time) or `is` (tags). The
validator refuses such rules first, so this guards the compiler against a rule that skipped it
and against an operator added to the table but not to the compiler."""

from __future__ import annotations

import pytest

from audience.models import AttributeDefinition, AttributeType, EventDefinition
from segments import selectors
from segments.rules import event_time
from segments.rules import operators as ops
from segments.rules.compile import Compiler
from segments.rules.errors import UnknownOperator


def condition(attribute, operator, value="x"):
    return {"attribute": attribute, "operator": operator, "value": value}


@pytest.fixture
def compiler(account):
    AttributeDefinition.objects.create(account=account, name="score", type=AttributeType.INTEGER)
    AttributeDefinition.objects.create(account=account, name="signup", type=AttributeType.DATE)
    AttributeDefinition.objects.create(account=account, name="vip", type=AttributeType.BOOLEAN)
    AttributeDefinition.objects.create(account=account, name="price", type=AttributeType.DECIMAL)
    EventDefinition.objects.get_or_create(account=account, name="Purchase")
    return Compiler(account)


@pytest.mark.parametrize(
    "attribute",
    [
        "phone",
        "email",
        "city",
        "company",
        "tags",
        "dnc",
        "gender",
        "birth_date",
        "created_at",
        "custom.score",
        "custom.signup",
        "custom.vip",
    ],
)
def test_it_raises_on_an_unknown_attribute_operator(compiler, attribute):
    with pytest.raises(UnknownOperator, match="'matches' is not an operator"):
        compiler.condition_q(condition(attribute, "matches"))


@pytest.mark.parametrize("attribute", ["phone", "email"])
def test_it_raises_on_an_operator_of_another_family(compiler, attribute):
    with pytest.raises(UnknownOperator):
        compiler.condition_q(condition(attribute, "gte", "5"))


def test_it_raises_on_an_unknown_event_time_operator(compiler):
    clause = {"event": "Purchase", "performed": True, "time": {"operator": "sometime", "value": "x"}}
    with pytest.raises(UnknownOperator, match="'sometime' is not an operator for an event time"):
        compiler.event_q(clause)


def test_it_raises_on_an_unknown_occurrence_operator(compiler):
    clause = {
        "event": "Purchase",
        "occurrence": {"operator": "about", "count": 2},
        "time": {"operator": "any_time"},
    }
    with pytest.raises(UnknownOperator, match="'about' is not an operator for an occurrence"):
        compiler.event_q(clause)


def test_it_compiles_every_operator_of_the_table(compiler, account):
    """Every operator the table offers for a kind has its rule in the compiler."""
    specs = {spec.kind: spec for spec in compiler.catalog.attributes()}
    samples = {ops.SCALAR: "1", ops.LIST: ["1"], ops.NONE: None, ops.RELATIVE: {"amount": 1, "unit": "days"}}
    for kind, table in ops.OPERATORS.items():
        for operator, shape in table.items():
            value = samples[shape]
            if kind in (ops.DATE, ops.DATETIME) and shape in (ops.SCALAR, ops.LIST):
                value = "2024-01-01" if kind == ops.DATE else "2024-01-01T00:00:00Z"
                value = [value] if shape == ops.LIST else value
            if specs[kind].choices:
                value = specs[kind].choices[0][0] if shape == ops.SCALAR else [specs[kind].choices[0][0]]
            rule = {
                "attributes": {"match": "all", "conditions": [condition(specs[kind].key, operator, value)]}
            }
            assert selectors.rule_validate(account=account, rule=rule) == [], (kind, operator)
            compiler.queryset(selectors.rule_clean(account=account, rule=rule)).count()
    for operator in event_time.OPERATORS:
        time = {
            "operator": operator,
            "amount": 1,
            "unit": "days",
            "from": 1,
            "to": 2,
            "value": "2024-01-01T00:00:00Z",
            "start": "2024-01-01T00:00:00Z",
            "end": "2024-01-02T00:00:00Z",
        }
        compiler.event_q({"event": "Purchase", "time": time})


def test_the_validator_refuses_an_unknown_operator_with_its_path(account):
    errors = selectors.rule_validate(
        account=account, rule={"attributes": {"match": "all", "conditions": [condition("phone", "matches")]}}
    )
    assert errors == [
        "attributes.conditions[0].operator: 'matches' is not an operator for Phone "
        "(use one of: is, is_not, in, not_in, is_empty, is_not_empty, starts_with, ends_with, contains, not_contains)"
    ]
