"""The Do Not Contact audit trail: filtered by contact, who, how, what and date."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from dnc import services
from dnc.models import DncAudit, DncEntry, How, Source

AUDIT = reverse("dnc:audit")


@pytest.fixture
def trail(account, other_account, owner, teammate):
    services.dnc_entries_add(
        accounts=[account], entries=[{"contact": "+385912345678"}], source=Source.IMPORT, added_by=owner
    )
    services.dnc_entry_add(accounts=[account], contact="ana@example.org", added_by=teammate, how=How.UI)
    services.dnc_entries_add(
        accounts=[account], entries=[{"contact": "+385917777777"}], source=Source.API, how=How.API
    )
    services.dnc_entries_add(
        accounts=[other_account], entries=[{"contact": "+385913333333"}], source=Source.API
    )
    entry = DncEntry.objects.get(value="+385912345678")
    services.dnc_entry_remove(entry=entry, account=account, removed_by=teammate, how=How.UI)
    DncAudit.objects.filter(value="+385917777777").update(at=dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC))


def shown(response) -> list[tuple[str, str]]:
    return [(row.action, row.value) for row in response.context["page"].rows]


def test_it_filters_the_trail_by_contact_who_how_what_and_date(owner_client, trail):
    assert shown(owner_client.get(AUDIT, {"contact": "2345 678"})) == [
        ("remove", "+385912345678"),
        ("add", "+385912345678"),
    ]
    assert shown(owner_client.get(AUDIT, {"who": "BOB"})) == [
        ("remove", "+385912345678"),
        ("add", "ana@example.org"),
    ]
    assert shown(owner_client.get(AUDIT, {"how": ["api"]})) == [("add", "+385917777777")]
    assert shown(owner_client.get(AUDIT, {"action": "remove"})) == [("remove", "+385912345678")]
    assert shown(owner_client.get(AUDIT, {"at_until": "2024-05-01"})) == [("add", "+385917777777")]
    assert len(shown(owner_client.get(AUDIT, {"at_from": "2024-05-02"}))) == 3
    body = owner_client.get(AUDIT, {"who": "nobody"}).content.decode()
    assert "No record matches these filters" in body and 'name="who" value="nobody"' in body


def test_it_says_what_is_wrong_with_a_filter(owner_client, trail):
    response = owner_client.get(AUDIT, {"at_from": "yesterday", "how": "fax"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Enter a valid date" in body and "fax is not one of the available choices" in body


def test_it_filters_an_outsider_only_their_trail(outsider_client, trail):
    assert shown(outsider_client.get(AUDIT, {"contact": "3859"})) == [("add", "+385913333333")]


@pytest.mark.parametrize("who", ["teammate_client", "viewer_client"])
def test_it_keeps_the_filtered_trail_from_non_admins(request, who, trail):
    assert request.getfixturevalue(who).get(AUDIT, {"who": "bob"}).status_code == 403
