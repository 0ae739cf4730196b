"""`field__any=[…]` (audience.lookups): the rows `__in` finds, with the list as one parameter on
PostgreSQL, on plain fields, primary keys and foreign keys."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audience.models import Contact, Profile

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(account):
    return [Profile.objects.create(account=account, first_name=name) for name in ("Ana", "Ben", "Cleo")]


def test_it_finds_what_in_finds_on_keys_and_plain_fields(people):
    ids = [people[0].pk, people[2].pk, 10**12]  # one id that exists nowhere
    assert set(Profile.objects.filter(pk__any=ids)) == set(Profile.objects.filter(pk__in=ids))
    assert {p.first_name for p in Profile.objects.filter(first_name__any=["Ben", "Zed"])} == {"Ben"}
    Contact.objects.create(
        account=people[1].account, profile=people[1], kind="email", value="ben@example.com"
    )
    assert list(Contact.objects.filter(profile_id__any=[people[1].pk]).values_list("value", flat=True)) == [
        "ben@example.com"
    ]
    assert Contact.objects.filter(profile__any=[people[0].pk]).count() == 0


def test_an_empty_list_matches_nothing(people):
    assert Profile.objects.filter(pk__any=[]).count() == 0
    assert Profile.objects.exclude(pk__any=[]).count() == len(people)


def test_on_postgresql_the_list_is_one_parameter(people):
    if connection.vendor != "postgresql":
        pytest.skip("the array form is PostgreSQL's; elsewhere it is IN")
    ids = [p.pk for p in people] + list(range(10**9, 10**9 + 997))
    with CaptureQueriesContext(connection) as queries:
        assert Profile.objects.filter(pk__any=ids).count() == len(people)
    sql = queries.captured_queries[-1]["sql"]
    assert "= ANY(" in sql and "::bigint[]" in sql
    assert " IN (" not in sql
