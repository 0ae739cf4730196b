"""The persons filter (`GET /people/2/persons?filter=`) is the segment rule language in Infobip's
spelling: each filter finds exactly the profiles its rule, written by hand here, finds through
`segments.selectors.rule_queryset`, and a filter the rule language cannot express is a 400 naming
where it is."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from audience import services
from audience.text import NUL_REFUSED
from segments.selectors import rule_queryset
from tags import services as tag_services

PEOPLE = {
    # external id: (fields, tags)
    "ann": (
        {
            "first_name": "Ann",
            "city": "London",
            "birth_date": dt.date(1990, 5, 1),
            "gender": "female",
            "type": "customer",
        },
        ["VIP"],
    ),
    "bob": ({"first_name": "Bob", "city": "", "type": "lead"}, []),
    "cy": (
        {
            "first_name": "cy",
            "city": "london",
            "birth_date": dt.date(1985, 1, 1),
            "gender": "male",
            "type": "customer",
        },
        ["vip", "News"],
    ),
    "dee": ({"first_name": "", "last_name": "Dee", "city": "Paris", "type": "lead"}, ["News"]),
}


def rule(*conditions: dict, match: str = "all") -> dict:
    return {"version": 1, "attributes": {"match": match, "conditions": list(conditions)}}


def cond(attribute: str, operator: str, value=None) -> dict:
    out = {"attribute": attribute, "operator": operator}
    if value is not None:
        out["value"] = value
    return out


# (filter, the rule written by hand, the external ids both find)
CASES = [
    ({"city": "LONDON"}, rule(cond("city", "is", "London")), {"ann", "cy"}),
    ({"#ne": {"city": "London"}}, rule(cond("city", "is_not", "London")), {"bob", "dee"}),
    ({"#contains": {"firstName": "N"}}, rule(cond("first_name", "contains", "n")), {"ann"}),
    (
        {"#notContain": {"firstName": "n"}},
        rule(cond("first_name", "not_contains", "n")),
        {"bob", "cy", "dee"},
    ),
    ({"#startsWith": {"city": "lon"}}, rule(cond("city", "starts_with", "Lon")), {"ann", "cy"}),
    ({"#endsWith": {"lastName": "EE"}}, rule(cond("last_name", "ends_with", "ee")), {"dee"}),
    ({"#contains": {"tags": "vip"}}, rule(cond("tags", "is", "VIP")), {"ann", "cy"}),
    ({"tags": "News"}, rule(cond("tags", "is", "news")), {"cy", "dee"}),
    ({"#notContain": {"tags": "VIP"}}, rule(cond("tags", "is_not", "VIP")), {"bob", "dee"}),
    ({"#ne": {"tags": "Nobody"}}, rule(cond("tags", "is_not", "Nobody")), {"ann", "bob", "cy", "dee"}),
    (
        {"#ne": {"birthDate": "1990-05-01"}},
        rule(cond("birth_date", "is_not", "1990-05-01")),
        {"bob", "cy", "dee"},
    ),
    ({"#lt": {"birthDate": "1989-01-01"}}, rule(cond("birth_date", "before", "1989-01-01")), {"cy"}),
    ({"#gte": {"birthDate": "1985-01-01"}}, rule(cond("birth_date", "since", "1985-01-01")), {"ann", "cy"}),
    ({"#lte": {"birthDate": "1985-01-01"}}, rule(cond("birth_date", "until", "1985-01-01")), {"cy"}),
    (
        {"#gt": {"createdAt": "2000-01-01T00:00:00Z"}},
        rule(cond("created_at", "after", "2000-01-01T00:00")),
        {"ann", "bob", "cy", "dee"},
    ),
    ({"city": None}, rule(cond("city", "is_empty")), {"bob"}),
    ({"#eq": {"firstName": ""}}, rule(cond("first_name", "is_empty")), {"dee"}),
    ({"#ne": {"birthDate": None}}, rule(cond("birth_date", "is_not_empty")), {"ann", "cy"}),
    ({"type": "LEAD"}, rule(cond("type", "is", "lead")), {"bob", "dee"}),
    ({"#ne": {"gender": "FEMALE"}}, rule(cond("gender", "is_not", "female")), {"bob", "cy", "dee"}),
    (
        {
            "#or": [
                {"#startsWith": {"firstName": "a"}},
                {"#and": [{"type": "LEAD"}, {"#endsWith": {"lastName": "ee"}}]},
            ]
        },
        rule(
            cond("first_name", "starts_with", "a"),
            {
                "match": "all",
                "conditions": [cond("type", "is", "lead"), cond("last_name", "ends_with", "ee")],
            },
            match="any",
        ),
        {"ann", "dee"},
    ),
    (
        {"#and": [{"#ne": {"gender": "MALE"}}, {"#or": [{"tags": "VIP"}, {"#ne": {"city": "Paris"}}]}]},
        rule(
            cond("gender", "is_not", "male"),
            {"match": "any", "conditions": [cond("tags", "is", "VIP"), cond("city", "is_not", "Paris")]},
        ),
        {"ann", "bob"},
    ),
    (
        # `#and` inside `#and` is one group: four levels of the filter, two of the rule.
        {
            "#and": [
                {"#and": [{"#and": [{"#or": [{"city": "Paris"}, {"tags": "VIP"}]}]}]},
                {"#ne": {"firstName": "Ann"}},
            ]
        },
        rule(
            {"match": "any", "conditions": [cond("city", "is", "Paris"), cond("tags", "is", "VIP")]},
            cond("first_name", "is_not", "Ann"),
        ),
        {"cy", "dee"},
    ),
    (
        # A filter of one group is that group.
        {"#and": [{"#or": [{"city": "Paris"}, {"#eq": {"firstName": "bob"}}]}]},
        rule(cond("city", "is", "Paris"), cond("first_name", "is", "Bob"), match="any"),
        {"bob", "dee"},
    ),
]


@pytest.fixture
def people(account, other_account):
    made = {}
    for external_id, (fields, tag_names) in PEOPLE.items():
        profile = services.profile_create(account=account, fields={"external_id": external_id, **fields})
        for name in tag_names:
            tag = tag_services.tag_get_or_create(account=account, name=name)
            tag_services.tags_add(account=account, tags=[tag], profile_ids=[profile.pk])
        made[external_id] = profile
    # Another account's twin of Ann: never found by this account's filters.
    stranger = services.profile_create(
        account=other_account, fields={"external_id": "ann2", "first_name": "Ann", "city": "London"}
    )
    theirs = tag_services.tag_get_or_create(account=other_account, name="VIP")
    tag_services.tags_add(account=other_account, tags=[theirs], profile_ids=[stranger.pk])
    return made


def found(api, flt: dict) -> set[str]:
    response = api.get("/people/2/persons", filter=json.dumps(flt), limit=1000)
    assert response.status_code == 200, response.content
    return {p["externalId"] for p in response.json()["persons"]}


@pytest.mark.parametrize(("flt", "hand_rule", "expected"), CASES, ids=[json.dumps(c[0]) for c in CASES])
def test_the_filter_finds_what_its_rule_finds(api, account, people, flt, hand_rule, expected):
    by_rule = {p.external_id for p in rule_queryset(account=account, rule=hand_rule)}
    assert by_rule == expected
    assert found(api, flt) == by_rule


def test_the_total_count_is_the_rule_count(api, account, people):
    flt = json.dumps({"#notContain": {"tags": "VIP"}})
    body = api.get("/people/2/persons", filter=flt, includeTotalCount="true", limit=1).json()
    assert body["totalCount"] == 2 and len(body["persons"]) == 1


def errors(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["requestError"]["serviceException"]["validationErrors"]


@pytest.mark.parametrize(
    ("flt", "path", "words"),
    [
        ({"#gt": {"firstName": "M"}}, "filter.#gt", "#gt does not apply to firstName"),
        (
            {"#and": [{"city": "x"}, {"#startsWith": {"tags": "V"}}]},
            "filter.#and[1].#startsWith",
            "does not apply to tags",
        ),
        ({"#eq": {"gender": "OTHER"}}, "filter.#eq", "expected one of: male, female"),
        ({"#or": [{"city": "x"}, {"#gt": {"birthDate": "soon"}}]}, "filter.#or[1].#gt", "expected a date"),
        ({"#lt": {"createdAt": "yesterday"}}, "filter.#lt", "expected a date"),
        ({"#contains": {"city": None}}, "filter.#contains", "#contains takes a value"),
        ({"city": ["London", "Paris"]}, "filter", "expected one text or date value for city"),
        ({"#eq": {"nickname": "x"}}, "filter.#eq", "unknown field 'nickname'"),
        ({"#like": {"city": "x"}}, "filter", "unknown operator '#like'"),
        ({"#or": []}, "filter", "#or takes a non-empty list"),
        (
            {
                "#or": [
                    {
                        "#and": [
                            {"#or": [{"#and": [{"city": "a"}, {"city": "b"}]}, {"city": "c"}]},
                            {"city": "d"},
                        ]
                    },
                    {"city": "e"},
                ]
            },
            "filter.#or[0].#and[0].#or[0]",
            "groups nest at most 3 levels",
        ),
        ({"#or": [{"city": str(i)} for i in range(26)]}, "filter.#or[25]", "at most 25 attribute conditions"),
    ],
)
def test_a_filter_the_rules_cannot_express_is_a_400_naming_it(api, people, flt, path, words):
    found_errors = errors(api.get("/people/2/persons", filter=json.dumps(flt)))
    assert path in found_errors, found_errors
    assert any(words in message for message in found_errors[path]), found_errors


def test_a_filter_nested_past_any_use_is_a_400_not_a_crash(api, people):
    flt: dict = {"city": "London"}
    for _ in range(40):
        flt = {"#and": [flt]}
    found_errors = errors(api.get("/people/2/persons", filter=json.dumps(flt)))
    assert any("filters nest at most 32 levels" in m for ms in found_errors.values() for m in ms)
    assert errors(api.get("/people/2/persons", filter="[" * 100_000))["filter"] == ["not valid JSON"]


def test_a_nul_in_a_value_is_a_400(api, people):
    flt = json.dumps({"#contains": {"city": "a\x00b"}})  # a JSON `\u0000`: no raw NUL in the query
    assert errors(api.get("/people/2/persons", filter=flt))["filter.#contains"] == [NUL_REFUSED]
