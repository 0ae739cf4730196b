from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from audience.models import Contact, Profile
from dnc import selectors, services
from dnc.models import Source


def person(account, *contacts):
    profile = Profile.objects.create(account=account)
    for value in contacts:
        Contact.objects.create(
            account=account, profile=profile, kind="email" if "@" in value else "phone", value=value
        )
    return profile


def blocked_ids(account, channel):
    return set(
        selectors.profiles_blocked(account=account, channel=channel).values_list("profile_id", flat=True)
    )


def test_it_finds_the_profiles_blocked_for_a_channel(account, other_account):
    sms = person(account, "+385912345678")
    everywhere = person(account, "+385912345679", "x@free.net")
    by_domain = person(account, "ana@example.org")
    by_sender = person(account, "+385912345670")
    clean = person(account, "+385912345671", "clean@free.net")
    services.dnc_entries_add(
        accounts=[account],
        entries=[
            {"contact": "+385912345678", "channel": "SMS"},
            {"contact": "+385912345679"},
            {"contact": "example.org"},
            {"contact": "+385912345670", "channel": "VIBER", "sender": "Shop"},
        ],
        source=Source.IMPORT,
    )
    services.dnc_entries_add(
        accounts=[other_account], entries=[{"contact": "clean@free.net"}], source=Source.API
    )
    assert blocked_ids(account, "SMS") == {sms.pk, everywhere.pk}
    assert blocked_ids(account, "EMAIL") == {everywhere.pk, by_domain.pk}
    assert blocked_ids(account, "VIBER") == {everywhere.pk, by_sender.pk}
    assert blocked_ids(account, "any") == {sms.pk, everywhere.pk, by_domain.pk, by_sender.pk}
    assert clean.pk not in blocked_ids(account, "any")


def test_it_refuses_an_unknown_channel(account):
    with pytest.raises(ValidationError):
        selectors.profiles_blocked(account=account, channel="PIGEON")


def test_it_reports_the_blocks_of_each_contact(account):
    profile = person(account, "+385912345678", "ana@example.org", "ana@free.net")
    services.dnc_entries_add(
        accounts=[account],
        entries=[
            {"contact": "+385912345678", "channel": "SMS"},
            {"contact": "+385912345678", "sender": "Shop"},
            {"contact": "example.org"},
        ],
        source=Source.IMPORT,
    )
    blocks = {
        contact.value: [(r.channel, r.sender) for r in rows]
        for contact, rows in selectors.profile_blocks(account=account, profile=profile)
    }
    assert sorted(blocks["+385912345678"]) == [("", "Shop"), ("SMS", "")]
    assert blocks["ana@example.org"] == [("EMAIL", "")]
    assert blocks["ana@free.net"] == []


def test_it_filters_entries_for_exports(account):
    services.dnc_entries_add(
        accounts=[account],
        entries=[{"contact": "+385912345678", "channel": "SMS"}, {"contact": "a@b.com"}],
        source=Source.IMPORT,
    )
    rows = selectors.entries_for_account(account=account, filters={"channel": ["SMS"]})
    assert [r.value for r in rows] == ["+385912345678"]
    with pytest.raises(ValidationError):
        selectors.entries_for_account(account=account, filters={"added_from": ["not a date"]})
