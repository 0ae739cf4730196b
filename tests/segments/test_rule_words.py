"""The editor shows a rule's errors in a marketer's words (the API keeps the path-named ones):
`attributes.conditions[0].value: expected a value (use is_empty …)` read as code on the screen."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from audience import services as audience_services
from segments.models import Segment


def _rule(*conditions, events=None) -> dict:
    rule = {"version": 1, "attributes": {"match": "all", "conditions": list(conditions)}}
    if events:
        rule["events"] = events
    return rule


@pytest.fixture
def vocabulary(account):
    audience_services.attribute_definition_create(account=account, name="visits", type="integer")
    audience_services.event_definition_create(
        account=account, name="Purchase", properties={"amount": "decimal"}
    )


CASES = [
    (
        _rule({"attribute": "city", "operator": "is", "value": ""}),
        "Condition 1: Enter a city, or choose “is empty”.",
    ),
    (
        _rule({"attribute": "address", "operator": "contains", "value": " "}),
        "Enter an address, or choose “is empty”.",
    ),
    (_rule({"attribute": "gender", "operator": "is", "value": ""}), "Choose a gender, or choose “is empty”."),
    (
        _rule(
            {"attribute": "city", "operator": "is", "value": "Pula"},
            {"match": "any", "conditions": [{"attribute": "city", "operator": "in", "value": ["Paris", ""]}]},
        ),
        "Condition 2.1: Enter a city in every box, or remove the empty one.",
    ),
    (
        _rule({"attribute": "birth_date", "operator": "is", "value": "soon"}),
        "Enter a date (YYYY-MM-DD) for Birth date.",
    ),
    (
        _rule({"attribute": "custom.visits", "operator": "gte", "value": "many"}),
        "Enter a whole number for visits.",
    ),
    (_rule({"attribute": "tags", "operator": "in", "value": []}), "Enter at least one tag name."),
    (
        _rule({"attribute": "created_at", "operator": "was_within", "value": {"amount": -1, "unit": "days"}}),
        "Enter how many, as a whole number from 0 to 10,000.",
    ),
    (
        _rule(events=[{"event": "Purchase", "occurrence": {"operator": "gte", "count": -2}}]),
        "Event 1: Enter how many times, as a whole number (0 or more).",
    ),
    (
        _rule(
            events=[
                {"event": "Purchase", "properties": [{"property": "amount", "operator": "gt", "value": "x"}]}
            ]
        ),
        "Event 1, property 1: Enter a number for amount.",
    ),
]


@pytest.mark.parametrize(("rule", "words"), CASES, ids=[w[:40] for _, w in CASES])
def test_it_counts_with_errors_in_a_marketers_words(vocabulary, owner_client, rule, words):
    body = owner_client.post(reverse("segments:count"), {"rule": json.dumps(rule)}).content.decode()
    assert words in body
    assert "expected" not in body and "is_empty" not in body
    assert 'data-path="' in body  # still placed next to its field by the path


def test_it_shows_the_words_above_the_form_on_save(vocabulary, teammate_client):
    rule = _rule({"attribute": "city", "operator": "is", "value": ""})
    response = teammate_client.post(reverse("segments:new"), {"name": "Empty", "rule": json.dumps(rule)})
    body = response.content.decode()
    assert response.status_code == 400 and "Condition 1: Enter a city, or choose “is empty”." in body
    assert "attributes.conditions[0].value: expected" not in body
    assert not Segment.objects.filter(name="Empty").exists()


def test_it_counts_for_an_outsider_in_their_own_words(outsider_client):
    rule = _rule({"attribute": "custom.visits", "operator": "gte", "value": 3})
    body = outsider_client.post(reverse("segments:count"), {"rule": json.dumps(rule)}).content.decode()
    assert "Choose an attribute from the list" in body  # the other account's attribute is unknown here
