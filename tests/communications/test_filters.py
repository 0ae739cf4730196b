from __future__ import annotations

import datetime as dt

from django.http import QueryDict
from django.utils import timezone

from audience.filters import ProfileFilterSet
from audience.models import Profile
from communications.models import Message
from tests.communications.conftest import broadcast_for, make_profile, send


def matching(account, query: str) -> set[int]:
    filterset = ProfileFilterSet(
        QueryDict(query), queryset=Profile.objects.for_account(account), account=account
    )
    assert filterset.is_valid(), filterset.errors
    return set(filterset.qs.values_list("pk", flat=True))


def test_it_filters_people_contacted_within_a_period(account):
    recent = make_profile(account, "Recent", phones=["+385912345678"])
    old = make_profile(account, "Old", phones=["+385912345679"])
    make_profile(account, "Never")
    send(broadcast_for(account, [recent, old]))
    Message.objects.filter(profile=old).update(created_at=timezone.now() - dt.timedelta(days=40))
    assert matching(account, "contacted_within=7") == {recent.pk}
    assert matching(account, "contacted_within=90") == {recent.pk, old.pk}


def test_it_counts_only_messages_that_were_sent(account):
    from tests.communications.conftest import block

    blocked = make_profile(account, "Blocked", phones=["+385912345678"])
    block([account], "+385912345678")
    send(broadcast_for(account, [blocked]))
    assert matching(account, "contacted_within=7") == set()


def test_it_filters_people_reached_over_a_channel(account):
    ana = make_profile(account, "Ana", phones=["+385912345678"], emails=["ana@example.com"])
    ben = make_profile(account, "Ben", phones=["+385912345679"])
    send(broadcast_for(account, [ana], channel="EMAIL"))
    send(broadcast_for(account, [ben], channel="SMS"))
    assert matching(account, "reached_channel=EMAIL") == {ana.pk}
    assert matching(account, "reached_channel=SMS") == {ben.pk}
    assert matching(account, "reached_channel=VIBER") == set()


def test_it_keeps_the_filters_within_the_account(account, other_account):
    olga = make_profile(other_account, "Olga", phones=["+385912345678"])
    send(broadcast_for(other_account, [olga]))
    assert matching(account, "contacted_within=7") == set()
    assert matching(other_account, "contacted_within=7") == {olga.pk}
