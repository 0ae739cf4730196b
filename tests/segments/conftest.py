from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest

from audience import services as audience_services
from audience.models import Event
from tags import services as tag_services

# 2024-03-30 23:30 UTC is already 2024-03-31 00:30 in Europe/Zagreb (the `account` fixture's zone):
# "today" for relative dates is the 31st, a month end in a leap year.
NOW = dt.datetime(2024, 3, 30, 23, 30, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        yield NOW


@pytest.fixture
def world(account, other_account, frozen):
    """Three profiles of `account` (ann: full, bob: partial, cid: empty) and one of another account."""
    for name, type_ in [
        ("spend", "decimal"),
        ("visits", "integer"),
        ("vip", "boolean"),
        ("signup", "date"),
        ("seen", "datetime"),
        ("plan", "text"),
    ]:
        audience_services.attribute_definition_create(account=account, name=name, type=type_)
    audience_services.event_definition_create(
        account=account, name="Purchase", properties={"category": "text", "amount": "decimal"}
    )
    acme = audience_services.company_create(account=account, fields={"name": "Acme Ltd"})
    ann = audience_services.profile_create(
        account=account,
        fields={
            "first_name": "Ann",
            "last_name": "Smith",
            "city": "London",
            "country": "GB",
            "type": "customer",
            "gender": "female",
            "birth_date": dt.date(2000, 2, 29),
            "company": acme,
            "created_at": NOW,
        },
        attributes={
            "spend": "150.5",
            "visits": 3,
            "vip": True,
            "signup": "2024-02-29",
            "seen": "2024-03-30T23:10:00Z",
            "plan": "Gold",
        },
        phones=["+385911234567"],
        emails=["ann@example.com"],
    )
    bob = audience_services.profile_create(
        account=account,
        fields={"first_name": "Bob", "city": "Paris", "birth_date": dt.date(1990, 5, 10)},
        attributes={
            "spend": 50,
            "visits": 10,
            "vip": False,
            "signup": "2024-04-01",
            "seen": "2024-03-30T22:00:00Z",
            "plan": "silver",
        },
        emails=["bob@test.org"],
    )
    cid = audience_services.profile_create(account=account, fields={})
    stranger = audience_services.profile_create(
        account=other_account, fields={"first_name": "Ann", "city": "London"}, emails=["ann@other.org"]
    )
    tag_services.tags_add(
        account=account,
        tags=[tag_services.tag_get_or_create(account=account, name="VIP")],
        profile_ids=[ann.pk],
    )
    tag_services.tags_add(
        account=account,
        tags=[tag_services.tag_get_or_create(account=account, name="Newsletter")],
        profile_ids=[bob.pk],
    )
    events = [(ann, d, "Electronics", 100) for d in (2, 6, 12)] + [(bob, 40, "Books", 20)]
    Event.objects.bulk_create(
        Event(
            account=account,
            profile=p,
            name="Purchase",
            occurred_at=NOW - dt.timedelta(days=d),
            properties={"category": c, "amount": a},
        )
        for p, d, c, a in events
    )
    Event.objects.create(
        account=other_account, profile=stranger, name="Purchase", occurred_at=NOW, properties={}
    )
    return {"ann": ann, "bob": bob, "cid": cid, "stranger": stranger}
