"""The batch check answers exactly what the single check answers, on generated lists and
destinations in every form a number or address arrives in."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audience.contacts import normalize_phone
from dnc import services
from dnc.destinations import destination_normalize, destination_normalize_fast
from dnc.models import DncEntry, Source

REGIONS = ["HR", "GB", "US", "DE", "IT", "RU", "AR", "BR", "AU", "JP", "FR", "IN", "MX", "HU", "BY"]
NUMBERS = [
    phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)
    for region in REGIONS
    for n in (phonenumbers.example_number(region), phonenumbers.example_number_for_type(region, 1))
    if n is not None
]
NUMBERS = sorted(set(NUMBERS))
DOMAINS = ["example.com", "example.org", "free.net"]


def forms_of(number: str) -> st.SearchStrategy[str]:
    digits = number[1:]
    code = str(phonenumbers.parse(number).country_code)
    return st.sampled_from(
        [
            number,
            "00" + digits,
            digits,
            f"+{code} {digits[len(code) :]}",
            f"+{code} ({digits[len(code) : len(code) + 2]}) {digits[len(code) + 2 :]}",
        ]
    )


emails = st.builds(
    lambda local, domain: f"{local}@{domain}", st.sampled_from(["ana", "Bo", "c.d"]), st.sampled_from(DOMAINS)
)
numbers = st.sampled_from(NUMBERS).flatmap(forms_of)
destinations = st.one_of(numbers, emails, st.sampled_from(["", "nonsense", "0123", "+1", "+0000000"]))
channels = st.sampled_from(["", "SMS", "VIBER", "EMAIL"])
senders = st.sampled_from(["", "Shop", "+385911112222"])
entries = st.fixed_dictionaries(
    {"contact": st.one_of(numbers, emails, st.sampled_from(DOMAINS)), "channel": channels, "sender": senders}
)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    items=st.lists(entries, max_size=12),
    wanted=st.lists(destinations, min_size=1, max_size=15),
    channel=st.sampled_from(["SMS", "VIBER", "EMAIL"]),
    sender=senders,
)
def test_it_answers_the_batch_as_the_single_check(account, items, wanted, channel, sender):
    DncEntry.objects.all().delete()
    services.dnc_entries_add(accounts=[account], entries=items, source=Source.IMPORT)
    batch = services.dnc_blocked_destinations(
        account=account, channel=channel, sender=sender, destinations=wanted
    )
    single = {
        destination_normalize(d)
        for d in wanted
        if services.dnc_is_blocked(account=account, channel=channel, sender=sender, destination=d)
    }
    assert batch == single


@settings(max_examples=300, deadline=None)
@given(
    number=st.sampled_from(NUMBERS).flatmap(forms_of) | st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)
)
def test_it_normalises_fast_as_it_does_slowly(number):
    slow = destination_normalize(number)
    fast = destination_normalize_fast(number)
    if slow is not None:
        assert fast == slow == normalize_phone(number)
