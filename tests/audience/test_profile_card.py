from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from audience import services
from audience.models import AttributeDefinition, Event, Profile
from tests.factories import CompanyFactory, EventFactory


@pytest.fixture
def profile(account):
    AttributeDefinition.objects.create(account=account, name="Loyalty", type="boolean")
    AttributeDefinition.objects.create(account=account, name="Renewal", type="datetime")
    company = CompanyFactory(account=account, name="Acme d.o.o.")
    return services.profile_create(
        account=account,
        fields={"first_name": "Ana", "last_name": "Horvat", "city": "Zagreb", "company": company},
        attributes={"Loyalty": "yes", "Renewal": "2026-03-01T10:30"},
        phones=["+385 91 123 4567"],
        emails=["Ana@Example.com"],
    )


def _url(profile: Profile) -> str:
    return reverse("audience:profile", args=[profile.pk])


@pytest.mark.parametrize("who", ["owner_client", "teammate_client", "viewer_client"])
def test_it_shows_attributes_contacts_and_company(request, who, profile):
    body = request.getfixturevalue(who).get(_url(profile)).content.decode()
    assert "Ana Horvat" in body
    assert "+385911234567" in body and "ana@example.com" in body
    assert "Acme d.o.o." in body
    assert "Loyalty" in body and "Yes" in body
    assert "1 Mar 2026, 11:30" in body  # stored 10:30 UTC, shown in the account's Europe/Zagreb


def test_it_answers_404_to_an_outsider(outsider_client, profile):
    assert outsider_client.get(_url(profile)).status_code == 404


def test_it_shows_edit_and_delete_only_to_editors(owner_client, teammate_client, viewer_client, profile):
    edit = reverse("audience:profile_edit", args=[profile.pk])
    assert edit in owner_client.get(_url(profile)).content.decode()
    assert edit in teammate_client.get(_url(profile)).content.decode()
    body = viewer_client.get(_url(profile)).content.decode()
    assert edit not in body
    assert reverse("audience:profile_delete", args=[profile.pk]) not in body


def _events(response) -> list[str]:
    """The events' moments, from their <time datetime> (ISO 8601), as "YYYY-MM-DD HH:MM" in UTC."""
    found = re.findall(
        r'<time class="small text-body-secondary" datetime="([^"]+)">[^<]+</time>', response.content.decode()
    )
    return [f"{dt.datetime.fromisoformat(value).astimezone(dt.UTC):%Y-%m-%d %H:%M}" for value in found]


def test_it_lists_events_newest_first_in_pages(owner_client, profile):
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for i in range(25):
        EventFactory(profile=profile, name="Purchase", occurred_at=start + dt.timedelta(hours=i))
    first = owner_client.get(_url(profile))
    times = _events(first)
    assert len(times) == 20
    assert times[0] == "2026-01-02 00:00" and times == sorted(times, reverse=True)
    after = re.search(r'href="\?event=&amp;after=([^"]+)"', first.content.decode()).group(1)
    second = owner_client.get(_url(profile), {"after": after}, headers={"HX-Request": "true"})
    assert second.content.decode().lstrip().startswith('<div id="events">')
    assert _events(second) == [
        "2026-01-01 04:00",
        "2026-01-01 03:00",
        "2026-01-01 02:00",
        "2026-01-01 01:00",
        "2026-01-01 00:00",
    ]
    assert "Newer" in second.content.decode()


def test_it_filters_the_timeline_by_event_name(owner_client, profile):
    EventFactory(profile=profile, name="Purchase", occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    EventFactory(profile=profile, name="App Launch", occurred_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
    response = owner_client.get(_url(profile), {"event": "App Launch"}, headers={"HX-Request": "true"})
    assert _events(response) == ["2026-01-02 00:00"]
    assert b"Purchase" not in response.content


def test_it_says_when_there_are_no_events(owner_client, profile):
    assert b"No events recorded for this person yet." in owner_client.get(_url(profile)).content
    assert Event.objects.count() == 0


def test_it_renders_panels_only_for_urls_that_resolve(owner_client, profile):
    from django.urls import NoReverseMatch

    body = owner_client.get(_url(profile)).content.decode()
    for name in [
        "tags:profile_panel",
        "segments:profile_panel",
        "dnc:profile_panel",
        "communications:profile_panel",
    ]:
        try:
            url = reverse(name, args=[profile.pk])
        except NoReverseMatch:
            continue
        assert f'hx-get="{url}" hx-trigger="load"' in body
