"""A date-time custom attribute typed on the profile form is the wall time of the account's time
zone (across DST changes), shown back the same way; the API keeps an explicit offset and reads a
naive date-time as UTC, as Infobip's People API does."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from audience import services
from audience.models import Account, AttributeDefinition, Profile, Role
from tests.api.conftest import ApiClient
from tests.conftest import _client_for, _user

pytestmark = pytest.mark.django_db

FROZEN = dt.datetime(2026, 12, 3, 16, 26, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: FROZEN)


def _account(django_user_model, zone: str) -> tuple[Account, object, AttributeDefinition]:
    account = services.account_create(name=zone, time_zone=zone)
    user = _user(django_user_model, zone.replace("/", "_").lower())
    services.membership_set(account=account, user=user, role=Role.ADMIN)
    renewal = AttributeDefinition.objects.create(account=account, name="Renewal", type="datetime")
    return account, _client_for(user), renewal


def _type(client, account: Account, renewal: AttributeDefinition, typed: str) -> Profile:
    """Create the person through the form, then edit them through it again with the same value
    shown back: an edit that changes nothing keeps the stored moment."""
    response = client.post(
        reverse("audience:profile_create"),
        {"type": "lead", "first_name": "Ana", "emails": "ana@example.com", f"attr_{renewal.pk}": typed},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return Profile.objects.get(account=account)


def _input_value(client, profile: Profile, renewal: AttributeDefinition) -> str:
    html = client.get(reverse("audience:profile_edit", args=[profile.pk])).content.decode()
    tag = re.search(rf'<input[^>]*name="attr_{renewal.pk}"[^>]*>', html).group(0)
    return re.search(r'value="([^"]*)"', tag).group(1)


# Zagreb leaves CET (+01:00) for CEST (+02:00) at 02:00 on 29 March 2026 and goes back at 03:00 on
# 25 October; New York leaves EST (-05:00) for EDT (-04:00) on 8 March and goes back on 1 November.
@pytest.mark.parametrize(
    ("zone", "typed", "stored", "shown"),
    [
        ("Europe/Zagreb", "2026-03-28T12:00", "2026-03-28T11:00:00Z", "28 Mar 2026, 12:00"),
        ("Europe/Zagreb", "2026-03-30T12:00", "2026-03-30T10:00:00Z", "30 Mar 2026, 12:00"),
        ("Europe/Zagreb", "2026-10-26T09:30", "2026-10-26T08:30:00Z", "26 Oct 2026, 09:30"),
        ("America/New_York", "2026-03-07T12:00", "2026-03-07T17:00:00Z", "7 Mar 2026, 12:00"),
        ("America/New_York", "2026-03-09T12:00", "2026-03-09T16:00:00Z", "9 Mar 2026, 12:00"),
        ("America/New_York", "2026-10-31T23:30", "2026-11-01T03:30:00Z", "31 Oct 2026, 23:30"),
        ("America/New_York", "2026-11-01T23:30", "2026-11-02T04:30:00Z", "1 Nov 2026, 23:30"),
    ],
)
def test_it_reads_the_typed_wall_time_in_the_accounts_time_zone(
    django_user_model, zone, typed, stored, shown
):
    account, client, renewal = _account(django_user_model, zone)
    profile = _type(client, account, renewal, typed)
    assert profile.attributes == {"Renewal": stored}
    assert _input_value(client, profile, renewal) == typed
    card = re.sub(
        r"\s+", " ", re.sub(r"<[^>]+>", " ", client.get(profile.get_absolute_url()).content.decode())
    )
    assert f"Renewal {shown}" in card
    edit = client.post(
        reverse("audience:profile_edit", args=[profile.pk]),
        {"type": "lead", "first_name": "Ana", "emails": "ana@example.com", f"attr_{renewal.pk}": typed},
    )
    assert edit.status_code == 302
    profile.refresh_from_db()
    assert profile.attributes == {"Renewal": stored}


def test_a_wall_time_the_change_skips_or_repeats_takes_the_offset_before_it(django_user_model):
    """02:30 on 29 March does not exist in Zagreb (clocks jump from 02:00 to 03:00): read with the
    winter offset it is 01:30 UTC, shown back as 03:30. 02:30 on 25 October happens twice: the
    first one (summer time, +02:00) is meant."""
    account, client, renewal = _account(django_user_model, "Europe/Zagreb")
    profile = _type(client, account, renewal, "2026-03-29T02:30")
    assert profile.attributes == {"Renewal": "2026-03-29T01:30:00Z"}
    assert _input_value(client, profile, renewal) == "2026-03-29T03:30"
    profile.delete()
    profile = _type(client, account, renewal, "2026-10-25T02:30")
    assert profile.attributes == {"Renewal": "2026-10-25T00:30:00Z"}
    assert _input_value(client, profile, renewal) == "2026-10-25T02:30"


def test_the_same_typed_time_is_a_different_moment_in_each_account(django_user_model):
    zagreb, zagreb_client, zagreb_renewal = _account(django_user_model, "Europe/Zagreb")
    new_york, new_york_client, new_york_renewal = _account(django_user_model, "America/New_York")
    ana = _type(zagreb_client, zagreb, zagreb_renewal, "2026-12-03T16:26")
    nora = _type(new_york_client, new_york, new_york_renewal, "2026-12-03T16:26")
    assert ana.attributes == {"Renewal": "2026-12-03T15:26:00Z"}
    assert nora.attributes == {"Renewal": "2026-12-03T21:26:00Z"}
    assert timezone.get_current_timezone_name() == "UTC"  # only while a request is answered


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2026-12-03T16:26:00+01:00", "2026-12-03T15:26:00Z"),
        ("2026-12-03T16:26:00-05:00", "2026-12-03T21:26:00Z"),
        ("2026-12-03T16:26:00Z", "2026-12-03T16:26:00Z"),
        ("2026-12-03T16:26:00", "2026-12-03T16:26:00Z"),  # naive: UTC, as Infobip reads it
    ],
)
def test_the_api_keeps_an_offset_and_reads_a_naive_date_time_as_utc(django_user_model, sent, stored):
    from audience import api_auth

    account, _, _ = _account(django_user_model, "Europe/Zagreb")
    _, key = api_auth.api_key_create(account=account, name="key")
    api = ApiClient(key)
    response = api.post("/people/2/persons", {"externalId": "x", "customAttributes": {"Renewal": sent}})
    assert response.status_code == 200, response.content
    assert Profile.objects.get(account=account).attributes == {"Renewal": stored}
