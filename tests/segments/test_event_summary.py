"""The event summary (one row per profile and event name, kept by triggers) and the event clauses
answered from it: every write path keeps it exact, and a clause counts the same profiles whether
the summary or the events answer it."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audience import api_auth, summary
from audience import services as audience_services
from audience.models import Event, EventSummary, Profile
from segments import selectors
from segments.rules.compile import Compiler
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2024, 3, 30, 23, 30, tzinfo=dt.UTC)


def recounted(account) -> dict:
    """The summary as it should be: grouped from the events."""
    rows = (
        Event.objects.filter(account=account)
        .values("profile_id", "name")
        .annotate(n=Count("*"), first=Min("occurred_at"), last=Max("occurred_at"))
    )
    return {(r["profile_id"], r["name"]): (r["n"], r["first"], r["last"]) for r in rows}


def summarised(account) -> dict:
    rows = EventSummary.objects.filter(account=account).values_list(
        "profile_id", "name", "count", "first_at", "last_at"
    )
    return {(p, name): (n, first, last) for p, name, n, first, last in rows}


def at(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.fixture
def two(account):
    audience_services.event_definition_create(account=account, name="Purchase", properties={})
    audience_services.event_definition_create(account=account, name="Login", properties={})
    return [audience_services.profile_create(account=account, fields={"first_name": n}) for n in ("A", "B")]


def test_triggers_keep_the_summary_through_every_kind_of_write(account, two):
    a, b = two
    Event.objects.bulk_create(
        [Event(account=account, profile=a, name="Purchase", occurred_at=at(d)) for d in (1, 5, 9)]
        + [Event(account=account, profile=b, name="Login", occurred_at=at(2))]
    )
    assert summarised(account) == recounted(account)
    assert summarised(account)[(a.pk, "Purchase")] == (3, at(9), at(1))

    # A second batch on the same pair widens the window and adds to the count.
    Event.objects.bulk_create([Event(account=account, profile=a, name="Purchase", occurred_at=at(20))])
    assert summarised(account)[(a.pk, "Purchase")] == (4, at(20), at(1))

    # Deleting the oldest narrows it again; an update moves an event between names.
    Event.objects.filter(profile=a, occurred_at=at(20)).delete()
    Event.objects.filter(profile=a, occurred_at=at(1)).update(name="Login")
    assert summarised(account) == recounted(account)
    assert summarised(account)[(a.pk, "Purchase")] == (2, at(9), at(5))
    assert summarised(account)[(a.pk, "Login")] == (1, at(1), at(1))

    # The last event of a pair takes its row along; a deleted profile takes all of its rows.
    Event.objects.filter(profile=b).delete()
    assert (b.pk, "Login") not in summarised(account)
    Profile.objects.filter(pk=a.pk).delete()
    assert summarised(account) == {} == recounted(account)


def test_events_api_duplicates_are_not_counted_twice(account, two):
    a, _ = two
    _, key = api_auth.api_key_create(account=account, name="events")
    api = ApiClient(key)
    batch = [
        {
            "eventId": f"e{day}",
            "definitionId": "Purchase",
            "occurredTime": f"2024-03-0{day}T10:00:00Z",
            "identifier": {"id": str(a.pk), "type": "ID"},
        }
        for day in (1, 2)
    ]
    for _ in range(2):  # the second time every eventId is known: nothing is added
        assert api.post("/people/3/events", batch).status_code < 300
    assert Event.objects.filter(profile=a).count() == 2
    assert summarised(account) == recounted(account)
    assert summarised(account)[(a.pk, "Purchase")][0] == 2


def test_rebuild_recomputes_an_account_from_its_events(account, two):
    a, _ = two
    Event.objects.bulk_create([Event(account=account, profile=a, name="Purchase", occurred_at=at(3))])
    EventSummary.objects.filter(account=account).delete()
    summary.rebuild(account)
    assert summarised(account) == recounted(account) != {}


TIMES = st.one_of(
    st.just({"operator": "any_time"}),
    st.builds(
        lambda op, n: {"operator": op, "amount": n, "unit": "days"},
        st.sampled_from(["within_last", "before_last"]),
        st.integers(0, 40),
    ),
    st.builds(
        lambda op, n: {"operator": op, "value": at(n).isoformat()},
        st.sampled_from(["after", "before"]),
        st.integers(0, 40),
    ),
)
OCCURRENCES = st.builds(
    lambda op, n: {"operator": op, "count": n},
    st.sampled_from(["gte", "gt", "lt", "lte", "equals"]),
    st.integers(0, 4),
)


def expected(profiles: dict[int, list[float]], time: dict, occurrence: dict, performed: bool) -> set[int]:
    """The clause's meaning written out over each profile's event ages in days (DESIGN.md)."""
    bound = {
        "any_time": lambda age: True,
        "within_last": lambda age: age <= time.get("amount", 0),
        "before_last": lambda age: age > time.get("amount", 0),
        "after": lambda age: at(age) > dt.datetime.fromisoformat(time.get("value", NOW.isoformat())),
        "before": lambda age: at(age) < dt.datetime.fromisoformat(time.get("value", NOW.isoformat())),
    }[time["operator"]]
    compare = {
        "gte": int.__ge__,
        "gt": int.__gt__,
        "lt": int.__lt__,
        "lte": int.__le__,
        "equals": int.__eq__,
    }[occurrence["operator"]]
    return {
        pk
        for pk, ages in profiles.items()
        if compare(sum(1 for age in ages if bound(age)), occurrence["count"]) == performed
    }


@pytest.fixture
def histories(account):
    """Six profiles with 0–5 Purchase events at whole-and-a-half days ago (never on a bound)."""
    audience_services.event_definition_create(account=account, name="Purchase", properties={})
    ages = [[], [0.5], [2.5, 10.5], [1.5, 20.5, 35.5], [5.5, 5.5, 12.5, 30.5], [0.5, 3.5, 8.5, 15.5, 45.5]]
    profiles = {}
    for i, days in enumerate(ages):
        profile = audience_services.profile_create(account=account, fields={"first_name": f"P{i}"})
        Event.objects.bulk_create(
            [Event(account=account, profile=profile, name="Purchase", occurred_at=at(d)) for d in days]
        )
        profiles[profile.pk] = days
    return profiles


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(time=TIMES, occurrence=OCCURRENCES, performed=st.booleans())
def test_a_clause_means_the_same_from_the_summary_or_the_events(
    account, histories, time, occurrence, performed
):
    clause = {"event": "Purchase", "time": time, "occurrence": occurrence, "performed": performed}
    compiler = Compiler(account, now=NOW)
    rule = {"version": 1, "events": [clause]}
    got = set(compiler.queryset(rule).values_list("pk", flat=True))
    assert got == expected(histories, time, occurrence, performed)
    # The count of a lone clause takes its own path (summary rows, total − positive): same number.
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        assert selectors.rule_count(account=account, rule=rule, cached=False) == len(got)
    # A filter on a property that every event passes forces the events path: same answer.
    with_property = {**clause, "properties": [{"property": "note", "operator": "is_empty"}]}
    events_path = compiler.event_q(with_property)
    assert (
        set(Profile.objects.filter(account=account).filter(events_path).values_list("pk", flat=True)) == got
    )


def test_an_event_for_another_accounts_profile_is_refused(account, other_account, two):
    """Counts take an event's account for its profile's: the database refuses anything else."""
    a, _ = two
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.create(account=other_account, profile=a, name="Purchase", occurred_at=at(1))
    event = Event.objects.create(account=account, profile=a, name="Purchase", occurred_at=at(1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.filter(pk=event.pk).update(account=other_account)
    assert summarised(account) == recounted(account) == {(a.pk, "Purchase"): (1, at(1), at(1))}
