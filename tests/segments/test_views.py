"""The Segments screens through their URLs, for the owner, a teammate (marketer), a viewer
(reads, can't change: 403) and an outsider of another account (404, never data)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from audience import services as audience_services
from audience import usage
from segments import services
from segments.models import Segment

CITY_LONDON = {
    "version": 1,
    "attributes": {
        "match": "all",
        "conditions": [{"attribute": "city", "operator": "is", "value": "London"}],
    },
}


@pytest.fixture
def segment(account, owner):
    audience_services.profile_create(account=account, fields={"first_name": "Ann", "city": "London"})
    audience_services.profile_create(account=account, fields={"first_name": "Bob", "city": "Paris"})
    return services.segment_create(account=account, name="Londoners", rule=CITY_LONDON, user=owner)


@pytest.fixture
def usage_checker():
    def checker(segment):
        return ["Broadcast “Spring sale”"] if segment.name == "Londoners" else []

    usage.usage_register(usage.SEGMENT, checker)
    yield
    usage._checkers[usage.SEGMENT].remove(checker)


def test_it_lists_segments_for_members(segment, owner_client, teammate_client, viewer_client):
    for client in (owner_client, teammate_client, viewer_client):
        response = client.get(reverse("segments:list"))
        assert response.status_code == 200
        body = response.content.decode()
        assert "Londoners" in body
        assert "Active Mobile Users" in body and "Inactive Mobile Users" in body
    assert "Create segment" not in viewer_client.get(reverse("segments:list")).content.decode()


def test_it_hides_segments_from_outsiders(segment, outsider_client):
    body = outsider_client.get(reverse("segments:list")).content.decode()
    assert "Londoners" not in body
    for name in ("detail", "edit", "segment_count"):
        assert outsider_client.get(reverse(f"segments:{name}", args=[segment.pk])).status_code == 404
    for name in ("duplicate", "delete"):
        assert outsider_client.post(reverse(f"segments:{name}", args=[segment.pk])).status_code == 404
    outsider_client.post(reverse("segments:delete_many"), {"ids": [segment.pk]})
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_it_searches_and_sorts(segment, account, owner_client):
    services.segment_create(account=account, name="Parisians", rule={"version": 1})
    body = owner_client.get(reverse("segments:list"), {"q": "paris"}).content.decode()
    assert "Parisians" in body and "Londoners" not in body
    body = owner_client.get(reverse("segments:list"), {"sort": "-name"}).content.decode()
    assert body.index("Parisians") < body.index("Londoners")
    partial = owner_client.get(
        reverse("segments:list"), {"q": "zzz"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "<html" not in partial and "No segment’s name contains" in partial


def test_it_creates_a_segment(account, owner_client, teammate_client):
    response = teammate_client.post(
        reverse("segments:new"), {"name": "Londoners", "rule": json.dumps(CITY_LONDON)}
    )
    segment = Segment.objects.get(account=account, name="Londoners")
    assert response.status_code == 302 and response["Location"] == segment.get_absolute_url()
    assert segment.rule["attributes"]["conditions"][0]["value"] == "London"
    assert owner_client.get(reverse("segments:new")).status_code == 200


def test_it_shows_rule_errors_next_to_their_path(account, owner_client):
    rule = {
        "version": 1,
        "attributes": {
            "match": "all",
            "conditions": [{"attribute": "birth_date", "operator": "is", "value": "soon"}],
        },
    }
    response = owner_client.post(reverse("segments:new"), {"name": "Bad", "rule": json.dumps(rule)})
    assert response.status_code == 400
    assert 'data-path="attributes.conditions[0].value"' in response.content.decode()
    assert not Segment.objects.filter(name="Bad").exists()
    response = owner_client.post(reverse("segments:new"), {"name": "", "rule": "{}"})
    assert response.status_code == 400 and "Give the segment a name." in response.content.decode()


def test_it_refuses_changes_to_viewers(segment, viewer_client):
    assert viewer_client.get(reverse("segments:new")).status_code == 403
    assert viewer_client.post(reverse("segments:new"), {"name": "X", "rule": "{}"}).status_code == 403
    assert viewer_client.get(reverse("segments:edit", args=[segment.pk])).status_code == 403
    assert viewer_client.post(reverse("segments:delete", args=[segment.pk])).status_code == 403
    assert viewer_client.post(reverse("segments:duplicate", args=[segment.pk])).status_code == 403
    assert viewer_client.post(reverse("segments:delete_many"), {"ids": [segment.pk]}).status_code == 403
    assert Segment.objects.filter(pk=segment.pk, name="Londoners").exists()


def test_it_edits_duplicates_and_deletes(segment, account, teammate_client):
    assert teammate_client.get(reverse("segments:edit", args=[segment.pk])).status_code == 200
    rule = {
        **CITY_LONDON,
        "attributes": {
            "match": "all",
            "conditions": [{"attribute": "city", "operator": "is", "value": "Paris"}],
        },
    }
    teammate_client.post(
        reverse("segments:edit", args=[segment.pk]), {"name": "Parisians", "rule": json.dumps(rule)}
    )
    segment.refresh_from_db()
    assert segment.name == "Parisians" and segment.rule["attributes"]["conditions"][0]["value"] == "Paris"
    teammate_client.post(reverse("segments:duplicate", args=[segment.pk]))
    copy = Segment.objects.get(account=account, name="Copy of Parisians")
    assert copy.rule == segment.rule
    response = teammate_client.post(reverse("segments:delete_many"), {"ids": [segment.pk, copy.pk]})
    assert response.status_code == 302
    assert not Segment.objects.filter(pk__in=[segment.pk, copy.pk]).exists()


def test_it_refuses_to_change_predefined_or_used_segments(segment, account, owner_client, usage_checker):
    services.segments_predefined_ensure(account=account)
    active = Segment.objects.get(account=account, predefined="active_mobile_users")
    response = owner_client.get(reverse("segments:edit", args=[active.pk]), follow=True)
    assert "predefined" in response.content.decode()
    owner_client.post(reverse("segments:delete", args=[active.pk]))
    response = owner_client.post(reverse("segments:delete", args=[segment.pk]), follow=True)
    assert "Broadcast “Spring sale”" in response.content.decode()
    response = owner_client.post(
        reverse("segments:edit", args=[segment.pk]), {"name": "X", "rule": "{}"}, follow=True
    )
    assert "used by Broadcast “Spring sale”" in response.content.decode()
    assert Segment.objects.filter(pk__in=[active.pk, segment.pk]).count() == 2
    assert "In use" in owner_client.get(reverse("segments:list")).content.decode()


def test_it_shows_a_segments_profiles_with_keyset_pages(segment, account, owner_client, viewer_client):
    for i in range(55):
        audience_services.profile_create(account=account, fields={"first_name": f"L{i}", "city": "london"})
    response = viewer_client.get(reverse("segments:detail", args=[segment.pk]))
    body = response.content.decode()
    assert response.status_code == 200 and "City is London" in body and "Bob" not in body
    assert "?after=" in body
    after = response.context["page"].next_after
    partial = owner_client.get(
        reverse("segments:detail", args=[segment.pk]), {"after": after}, HTTP_HX_REQUEST="true"
    )
    assert "<html" not in partial.content.decode() and "Ann" in partial.content.decode()


def test_it_pages_a_segments_profiles_back_as_well_as_forward(segment, account, viewer_client):
    for i in range(55):
        audience_services.profile_create(account=account, fields={"first_name": f"L{i}", "city": "london"})
    url = reverse("segments:detail", args=[segment.pk])
    first = viewer_client.get(url)
    assert "Previous page" not in first.content.decode()
    first_ids = [p.pk for p in first.context["page"].profiles]
    second = viewer_client.get(url, {"after": first.context["page"].next_after})
    body = second.content.decode()
    assert "Previous page" in body and "Next page" not in body
    previous = second.context["page"].previous_before
    assert f'href="?before={previous}"' in body
    back = viewer_client.get(url, {"before": previous})
    assert [p.pk for p in back.context["page"].profiles] == first_ids
    assert "Previous page" not in back.content.decode() and "Next page" in back.content.decode()
    partial = viewer_client.get(url, {"before": previous}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "Next page" in partial


def test_it_counts_a_saved_segment(segment, viewer_client):
    response = viewer_client.get(reverse("segments:segment_count", args=[segment.pk]), HTTP_HX_REQUEST="true")
    assert "1</span> person matches" in response.content.decode()


def test_it_counts_a_rule_live(segment, account, owner_client, viewer_client, outsider_client):
    response = viewer_client.post(
        reverse("segments:count"), {"rule": json.dumps(CITY_LONDON)}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200 and "1</span> person matches" in body and "Ann" in body
    assert (
        "2</span> people match"
        in owner_client.post(reverse("segments:count"), {"rule": "{}"}).content.decode()
    )
    bad = {
        "version": 1,
        "attributes": {
            "match": "all",
            "conditions": [{"attribute": "custom.nope", "operator": "is", "value": 1}],
        },
    }
    body = owner_client.post(reverse("segments:count"), {"rule": json.dumps(bad)}).content.decode()
    assert 'data-path="attributes.conditions[0].attribute"' in body
    assert "Choose an attribute from the list" in body
    assert "not valid JSON" in owner_client.post(reverse("segments:count"), {"rule": "{"}).content.decode()
    outside = outsider_client.post(
        reverse("segments:count"), {"rule": json.dumps(CITY_LONDON)}
    ).content.decode()
    assert "Nobody matches" in outside and "Ann" not in outside


def test_it_serves_the_people_advanced_filter(segment, owner_client, viewer_client, outsider_client):
    url = reverse("segments:people_advanced_filter")
    response = owner_client.get(
        url, {"city": "London", "rule": json.dumps(CITY_LONDON)}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="city" value="London"' in body and "Apply filter" in body and "Save as segment" in body
    assert "rule-schema" in body and "Clear advanced filter" in body
    assert "Save as segment" not in viewer_client.get(url).content.decode()
    assert outsider_client.get(url).status_code == 200  # their own (empty) editor


def test_it_explains_a_profile_in_the_panel(segment, account, owner_client, viewer_client, outsider_client):
    ann = account.profiles.get(first_name="Ann")
    url = reverse("segments:profile_panel", args=[ann.pk])
    assert "Londoners" in viewer_client.get(url).content.decode()
    body = owner_client.get(url, {"segment": segment.pk}, HTTP_HX_REQUEST="true").content.decode()
    assert "In “Londoners”" in body and "City is London" in body
    bob = account.profiles.get(first_name="Bob")
    body = owner_client.get(
        reverse("segments:profile_panel", args=[bob.pk]), {"segment": segment.pk}
    ).content.decode()
    assert "Not in “Londoners”" in body
    assert outsider_client.get(url).status_code == 404
