"""People › "Save as segment": the saved segment holds exactly the people the summary card counted,
quick filters included (they were dropped: Gender = Female plus an OR group counted 150 and saved
326; the quick filters alone saved the whole account)."""

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from audience import services as audience_services
from segments.models import Segment
from tags import services as tag_services

PEOPLE = [
    # first name, gender, type, city, country, address, created (UTC), tags
    ("Ann", "female", "customer", "London", "GB", "1 High Street", "2024-03-04T23:30", ["VIP"]),
    ("Bea", "female", "lead", "london", "gb", "2 Low Road", "2024-03-04T22:30", ["vip", "News"]),
    ("Cid", "male", "customer", "Paris", "FR", "", "2024-03-10T12:00", ["News"]),
    ("Dee", "female", "customer", "Paris", "FR", "9 high street", "2024-03-20T12:00", []),
    ("Eve", "", "lead", "", "", "", "2024-03-31T21:59", ["VIP"]),
    ("Fay", "female", "customer", "Zagreb", "HR", "", "2024-03-31T22:30", ["News"]),
]
OR_GROUP = {
    "version": 1,
    "attributes": {
        "match": "any",
        "conditions": [
            {"attribute": "city", "operator": "is", "value": "Paris"},
            {"attribute": "tags", "operator": "is", "value": "VIP"},
        ],
    },
}
ALL_GROUP = {
    "version": 1,
    "attributes": {
        "match": "all",
        "conditions": [{"attribute": "type", "operator": "is", "value": "customer"}],
    },
}
COMBOS = [
    {"gender": "female"},
    {"gender": "female", "rule": json.dumps(OR_GROUP)},
    {"gender": "female", "rule": json.dumps(ALL_GROUP)},
    {"type": "lead", "city": "LONDON"},
    {"country": "fr", "address": "HIGH"},
    {"address": "high"},
    {"created_after": "2024-03-05"},  # the account's days (Europe/Zagreb): Ann's 23:30 UTC is the 5th
    {"created_before": "2024-03-31"},  # Eve's 21:59 UTC is the 31st, Fay's 22:30 UTC is April 1st
    {"created_after": "2024-03-05", "created_before": "2024-03-20"},
    {"tag": ["vip", "News"]},
    {"tag": ["VIP", "News"], "tag_match": "all"},
    {"tag": ["News"], "gender": "female", "sort": "name", "rule": json.dumps(OR_GROUP)},
]


@pytest.fixture
def people(account, other_account):
    for first, gender, type_, city, country, address, created, tags in PEOPLE:
        fields = {"first_name": first, "gender": gender, "type": type_, "city": city, "country": country}
        fields["address"] = address
        fields["created_at"] = dt.datetime.fromisoformat(created).replace(tzinfo=dt.UTC)
        profile = audience_services.profile_create(account=account, fields=fields)
        for name in tags:
            tag_services.profile_tag_add(profile=profile, name=name)
    # Another account's look-alike is never counted.
    other = audience_services.profile_create(
        account=other_account, fields={"first_name": "Ann", "gender": "female"}
    )
    tag_services.profile_tag_add(profile=other, name="VIP")


def _people_count(client, query: dict) -> int:
    body = client.get(reverse("audience:people_count") + "?" + urlencode(query, doseq=True)).content.decode()
    return int(re.search(r'data-count="(\d+)"', body).group(1))


def _save_as_segment(client, query: dict, name: str) -> tuple[Segment, str]:
    """What the People page's "Save as segment" does: GET the editor with the People querystring,
    then create the segment with the rule the editor starts from."""
    page = client.get(reverse("segments:new") + "?" + urlencode(query, doseq=True))
    assert page.status_code == 200
    response = client.post(reverse("segments:new"), {"name": name, "rule": page.context["rule_json"]})
    assert response.status_code == 302, response.content.decode()
    return Segment.objects.get(name=name), page.content.decode()


def _segment_count(client, segment: Segment) -> int:
    body = client.get(reverse("segments:segment_count", args=[segment.pk])).content.decode()
    return int(re.search(r"(\d+)</span> (?:person matches|people match)", body).group(1))


@pytest.mark.parametrize("query", COMBOS, ids=[urlencode(q, doseq=True)[:60] for q in COMBOS])
def test_it_saves_a_segment_holding_whom_people_counted(people, owner_client, query):
    counted = _people_count(owner_client, query)
    segment, page = _save_as_segment(owner_client, query, "From People")
    assert "Not carried over" not in page
    assert _segment_count(owner_client, segment) == counted
    assert counted < len(PEOPLE)  # every combo filters something


def test_it_keeps_the_counts_equal_for_a_teammate(people, teammate_client):
    query = {"gender": "female", "country": "gb", "rule": json.dumps(OR_GROUP)}
    counted = _people_count(teammate_client, query)
    segment, _ = _save_as_segment(teammate_client, query, "Teammate's")
    assert counted == 2 and _segment_count(teammate_client, segment) == 2


def test_it_names_the_quick_filters_a_segment_cant_hold(people, owner_client):
    query = {"q": "an", "gender": "female", "contacted_within": "7"}
    segment, page = _save_as_segment(owner_client, query, "Searched")
    assert "Not carried over from People" in page
    assert "Search “an”" in page and "Contacted within “Last 7 days”" in page
    # What could be carried was: gender.
    assert segment.rule["attributes"]["conditions"] == [
        {"attribute": "gender", "operator": "is", "value": "female"}
    ]


def test_it_says_so_when_the_advanced_groups_are_already_three_deep(people, owner_client):
    deep = {
        "version": 1,
        "attributes": {
            "match": "any",
            "conditions": [
                {"attribute": "city", "operator": "is", "value": "Paris"},
                {
                    "match": "all",
                    "conditions": [
                        {
                            "match": "any",
                            "conditions": [{"attribute": "tags", "operator": "is", "value": "VIP"}],
                        }
                    ],
                },
            ],
        },
    }
    segment, page = _save_as_segment(owner_client, {"gender": "female", "rule": json.dumps(deep)}, "Deep")
    assert "Not carried over from People" in page and "Gender" in page
    assert segment.rule["attributes"]["match"] == "any"


def test_it_refuses_a_viewer_and_an_outsider_sees_only_their_own(people, viewer_client, outsider_client):
    assert viewer_client.get(reverse("segments:new") + "?gender=female").status_code == 403
    query = {"gender": "female", "tag": ["VIP"]}
    counted = _people_count(outsider_client, query)
    segment, _ = _save_as_segment(outsider_client, query, "Outsider's")
    assert counted == 1 and _segment_count(outsider_client, segment) == 1
