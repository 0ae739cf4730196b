"""A date-time typed in the rule editor is a wall time in the account's time zone (across DST
changes), as on the profile form; an explicit offset or Z is that moment; the API keeps reading an
offset-less date-time as UTC. A saved rule holds UTC moments, which the editor shows as the
account's wall time and sends back unchanged: saving a segment again never moves its moments."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.urls import reverse

from audience import api_auth, services
from audience.models import Account, AttributeDefinition, EventDefinition, Profile, Role
from segments import services as segment_services
from segments.models import Segment
from tests.api.conftest import ApiClient
from tests.conftest import _client_for, _user

pytestmark = pytest.mark.django_db


def _account(django_user_model, zone: str) -> tuple[Account, object]:
    account = services.account_create(name=zone, time_zone=zone)
    user = _user(django_user_model, zone.replace("/", "_").lower())
    services.membership_set(account=account, user=user, role=Role.ADMIN)
    AttributeDefinition.objects.create(account=account, name="Seen", type="datetime")
    EventDefinition.objects.create(account=account, name="Purchase", properties={})
    return account, _client_for(user)


def seen(value: str, operator: str = "before") -> dict:
    return {
        "version": 1,
        "attributes": {
            "match": "all",
            "conditions": [{"attribute": "custom.Seen", "operator": operator, "value": value}],
        },
    }


def _save(client, account: Account, rule: dict) -> Segment:
    response = client.post(reverse("segments:new"), {"name": "Seen", "rule": json.dumps(rule)})
    assert response.status_code == 302, response.content.decode()[:3000]
    return Segment.objects.get(account=account, name="Seen")


def _saved_value(segment: Segment) -> str:
    return segment.rule["attributes"]["conditions"][0]["value"]


# Zagreb leaves CET (+01:00) for CEST (+02:00) at 02:00 on 29 March 2026 and goes back at 03:00 on
# 25 October; New York leaves EST (-05:00) for EDT (-04:00) on 8 March and goes back on 1 November.
# A wall time the change skips or repeats takes the offset in force before the change.
@pytest.mark.parametrize(
    ("zone", "typed", "stored"),
    [
        ("Europe/Zagreb", "2026-12-03T16:26:00", "2026-12-03T15:26:00Z"),
        ("Europe/Zagreb", "2026-07-04T12:00:00", "2026-07-04T10:00:00Z"),
        ("Europe/Zagreb", "2026-03-29T02:30:00", "2026-03-29T01:30:00Z"),  # skipped
        ("Europe/Zagreb", "2026-10-25T02:30:00", "2026-10-25T00:30:00Z"),  # repeated: the first
        ("Europe/Zagreb", "2026-12-03T16:26:00-05:00", "2026-12-03T21:26:00Z"),  # an offset is kept
        ("Europe/Zagreb", "2026-12-03T16:26:00Z", "2026-12-03T16:26:00Z"),
        ("America/New_York", "2026-03-08T02:30:00", "2026-03-08T07:30:00Z"),  # skipped
        ("America/New_York", "2026-11-01T01:30:00", "2026-11-01T05:30:00Z"),  # repeated: the first
        ("America/New_York", "2026-07-04T12:00:00", "2026-07-04T16:00:00Z"),
        ("UTC", "2026-12-03T16:26:00", "2026-12-03T16:26:00Z"),
    ],
)
def test_a_date_time_typed_in_the_editor_is_the_accounts_wall_time(django_user_model, zone, typed, stored):
    account, client = _account(django_user_model, zone)
    assert _saved_value(_save(client, account, seen(typed))) == stored


def test_event_moments_typed_in_the_editor_are_the_accounts_wall_time(django_user_model):
    account, client = _account(django_user_model, "Europe/Zagreb")
    rule = {
        "version": 1,
        "events": [
            {
                "event": "Purchase",
                "performed": True,
                "time": {"operator": "between", "start": "2026-03-28T12:00:00", "end": "2026-03-30T12:00:00"},
            }
        ],
    }
    time = _save(client, account, rule).rule["events"][0]["time"]
    assert (time["start"], time["end"]) == ("2026-03-28T11:00:00Z", "2026-03-30T10:00:00Z")


def _people(account: Account) -> None:
    for name, moment in (("Ann", "2026-12-03T15:00:00Z"), ("Bob", "2026-12-03T16:00:00Z")):
        Profile.objects.create(account=account, first_name=name, attributes={"Seen": moment})


def test_the_editors_count_and_the_people_list_read_it_in_the_account_zone_and_the_api_in_utc(
    django_user_model,
):
    account, client = _account(django_user_model, "Europe/Zagreb")
    _people(account)
    typed = seen("2026-12-03T16:26:00")  # 15:26 UTC in Zagreb: Ann (15:00 UTC) only
    count = client.post(reverse("segments:count"), {"rule": json.dumps(typed)}, HTTP_HX_REQUEST="true")
    assert '<span class="fs-4 fw-semibold">1</span> person matches' in count.text, count.text
    people = client.get(reverse("audience:people"), {"rule": json.dumps(typed)}).text
    assert "Ann" in people and "Bob" not in people
    _, key = api_auth.api_key_create(account=account, name="key")
    api = ApiClient(key)
    assert api.post("/people/3/segments/count", {"rule": typed}).json() == {"count": 2}  # 16:26 UTC
    explicit = seen("2026-12-03T16:26:00+01:00")
    assert api.post("/people/3/segments/count", {"rule": explicit}).json() == {"count": 1}
    created = api.post("/people/3/segments", {"name": "From the API", "rule": typed})
    assert created.status_code == 201, created.content
    assert _saved_value(Segment.objects.get(account=account, name="From the API")) == "2026-12-03T16:26:00Z"


def _editor_rule(client, segment: Segment) -> dict:
    page = client.get(reverse("segments:edit", args=[segment.pk])).text
    return json.loads(html.unescape(re.search(r'id="rule-input" value="([^"]*)"', page).group(1)))


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("2026-12-03T15:26:00Z", "2026-12-03T16:26:00+01:00"),
        ("2026-07-04T10:00:00Z", "2026-07-04T12:00:00+02:00"),
        ("2026-10-25T00:30:00Z", "2026-10-25T02:30:00+02:00"),  # 02:30, the first time
        ("2026-10-25T01:30:00Z", "2026-10-25T02:30:00+01:00"),  # 02:30, the second time
    ],
)
def test_a_saved_rule_is_shown_in_the_accounts_zone_and_saved_again_unchanged(
    django_user_model, stored, shown
):
    account, client = _account(django_user_model, "Europe/Zagreb")
    # Saved before the editor read the account's zone: its moments are UTC ("Z"), and stay so.
    segment = segment_services.segment_create(account=account, name="Seen", rule=seen(stored))
    shown_rule = _editor_rule(client, segment)
    assert shown_rule["attributes"]["conditions"][0]["value"] == shown
    response = client.post(
        reverse("segments:edit", args=[segment.pk]), {"name": "Seen", "rule": json.dumps(shown_rule)}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    segment.refresh_from_db()
    assert _saved_value(segment) == stored


def test_a_flow_branch_rule_typed_on_the_flow_page_is_the_accounts_wall_time(django_user_model):
    from audience.selection import Selection
    from communications import services as communication_services

    account, client = _account(django_user_model, "America/New_York")
    flow = communication_services.flow_create(
        account=account,
        user=None,
        name="Welcome",
        audience=communication_services.AudienceSpec(
            selections=[Selection(ids=[Profile.objects.create(account=account, first_name="Ana").pk])]
        ),
    )
    url = reverse("communications:flow_step_add", args=[flow.pk])
    assert client.post(url, {"kind": "exit"}).status_code == 302
    exit_step = flow.steps.get()
    data = {
        "kind": "branch",
        "rule": json.dumps(seen("2026-11-01T01:30:00")),  # repeated in New York: the first (EDT)
        "then": exit_step.pk,
        "else": exit_step.pk,
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    branch = flow.steps.get(kind="branch")
    assert branch.config["rule"]["attributes"]["conditions"][0]["value"] == "2026-11-01T05:30:00Z"
