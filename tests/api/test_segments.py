from __future__ import annotations

import pytest

from audience import services
from segments import services as segment_services
from segments.models import Segment
from tests.api.conftest import ApiClient, error_id

LONDON = {
    "version": 1,
    "attributes": {
        "match": "all",
        "conditions": [{"attribute": "city", "operator": "is", "value": "London"}],
    },
}


def _errors(response) -> dict:
    return response.json()["requestError"]["serviceException"]["validationErrors"]


@pytest.fixture
def londoners(account):
    return [
        services.profile_create(account=account, fields={"external_id": f"l{i}", "city": "London"})
        for i in range(3)
    ] + [services.profile_create(account=account, fields={"external_id": "p1", "city": "Paris"})]


@pytest.fixture
def segment(account):
    return segment_services.segment_create(account=account, name="Londoners", rule=LONDON, description="d")


def test_it_creates_gets_replaces_and_deletes_a_segment(api):
    created = api.post("/people/3/segments", {"name": "Londoners", "description": "In town", "rule": LONDON})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "Londoners" and body["predefined"] is False
    assert body["rule"]["attributes"]["conditions"][0]["value"] == "London"
    path = f"/people/3/segments/{body['id']}"
    assert api.get(path).json()["description"] == "In town"
    paris = {
        "version": 1,
        "attributes": {
            "match": "all",
            "conditions": [{"attribute": "city", "operator": "is", "value": "Paris"}],
        },
    }
    replaced = api.put(path, {"name": "Parisians", "rule": paris})
    assert replaced.status_code == 200
    assert replaced.json()["name"] == "Parisians" and replaced.json()["description"] == ""
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404


def test_rule_errors_name_their_path(api):
    rule = {
        "version": 1,
        "attributes": {
            "match": "all",
            "conditions": [
                {"attribute": "city", "operator": "is", "value": "London"},
                {"attribute": "birth_date", "operator": "before", "value": "soon"},
            ],
        },
    }
    response = api.post("/people/3/segments", {"name": "Bad", "rule": rule})
    assert response.status_code == 400 and error_id(response) == "BAD_REQUEST"
    assert any(key.startswith("rule.attributes.conditions[1]") for key in _errors(response))
    assert not Segment.objects.filter(name="Bad").exists()
    count = api.post("/people/3/segments/count", {"rule": rule})
    assert count.status_code == 400
    assert any(key.startswith("rule.attributes.conditions[1]") for key in _errors(count))


def test_a_duplicate_name_is_a_conflict(api, segment):
    response = api.post("/people/3/segments", {"name": "londoners", "rule": LONDON})
    assert response.status_code == 409
    assert "name" in _errors(response)
    assert Segment.objects.filter(name__iexact="londoners").count() == 1


def test_it_lists_segments_in_pages(api, account, segment):
    segment_services.segment_create(account=account, name="Another", rule=LONDON)
    first = api.get("/people/3/segments", page=0, size=1, sort="name,asc").json()
    total = Segment.objects.for_account(account).count()
    assert first["paging"] == {"page": 0, "size": 1, "totalPages": total, "totalResults": total}
    assert first["results"][0]["name"] == "Another"
    names = [
        s["name"] for s in api.get("/people/3/segments", size=1000, sort="createdAt,desc").json()["results"]
    ]
    assert "Londoners" in names and "Another" in names
    assert api.get("/people/3/segments", size=1001).status_code == 400
    assert api.get("/people/3/segments", sort="colour,asc").status_code == 400


def test_persons_of_a_segment_and_its_count(api, segment, londoners):
    body = api.get(f"/people/3/segments/{segment.pk}/persons", page=0, size=2).json()
    assert body["paging"] == {"page": 0, "size": 2, "totalPages": 2, "totalResults": 3}
    assert [p["externalId"] for p in body["results"]] == ["l0", "l1"]
    second = api.get(f"/people/3/segments/{segment.pk}/persons", page=1, size=2).json()
    assert [p["externalId"] for p in second["results"]] == ["l2"]
    assert api.post("/people/3/segments/count", {"rule": LONDON}).json() == {"count": 3}
    assert api.post("/people/3/segments/count", {"rule": {"version": 1}}).json() == {"count": 4}
    assert api.get(f"/people/3/segments/{segment.pk}/persons", size=0).status_code == 400


def test_explain_says_which_conditions_hold(api, londoners):
    response = api.post(
        "/people/3/segments/explain", {"rule": LONDON, "person": {"type": "EXTERNAL_ID", "identifier": "p1"}}
    )
    assert response.status_code == 200
    assert response.json()["matches"] is False
    matched = api.post(
        "/people/3/segments/explain",
        {"rule": LONDON, "person": {"type": "ID", "identifier": str(londoners[0].pk)}},
    )
    assert matched.json()["matches"] is True
    missing = api.post(
        "/people/3/segments/explain",
        {"rule": LONDON, "person": {"type": "EXTERNAL_ID", "identifier": "nobody"}},
    )
    assert missing.status_code == 404


def test_predefined_segments_cannot_be_changed(api, account):
    segment_services.segments_predefined_ensure(account=account)
    predefined = Segment.objects.for_account(account).exclude(predefined="").first()
    path = f"/people/3/segments/{predefined.pk}"
    assert api.get(path).json()["predefined"] is True
    replaced = api.put(path, {"name": "Mine now", "rule": LONDON})
    assert replaced.status_code == 409 and "predefined" in replaced.content.decode()
    deleted = api.delete(path)
    assert deleted.status_code == 409
    predefined.refresh_from_db()
    assert predefined.name != "Mine now"


def test_a_read_only_key_reads_counts_and_explains_but_cannot_write(read_api, segment, londoners):
    path = f"/people/3/segments/{segment.pk}"
    assert read_api.get("/people/3/segments").status_code == 200
    assert read_api.get(path).status_code == 200
    assert read_api.get(f"{path}/persons").status_code == 200
    assert read_api.post("/people/3/segments/count", {"rule": LONDON}).status_code == 200
    explain = {"rule": LONDON, "person": {"type": "EXTERNAL_ID", "identifier": "l0"}}
    assert read_api.post("/people/3/segments/explain", explain).status_code == 200
    for response in (
        read_api.post("/people/3/segments", {"name": "New", "rule": LONDON}),
        read_api.put(path, {"name": "Changed", "rule": LONDON}),
        read_api.delete(path),
    ):
        assert response.status_code == 403 and error_id(response) == "FORBIDDEN"
    segment.refresh_from_db()
    assert segment.name == "Londoners" and not Segment.objects.filter(name="New").exists()


def test_another_accounts_key_gets_404_never_data(other_api, segment, londoners):
    path = f"/people/3/segments/{segment.pk}"
    names = [s["name"] for s in other_api.get("/people/3/segments", size=1000).json()["results"]]
    assert "Londoners" not in names
    for response in (
        other_api.get(path),
        other_api.get(f"{path}/persons"),
        other_api.put(path, {"name": "Stolen", "rule": LONDON}),
        other_api.delete(path),
    ):
        assert response.status_code == 404 and b"London" not in response.content
    # Rules count and explain in the key's own account only.
    assert other_api.post("/people/3/segments/count", {"rule": LONDON}).json() == {"count": 0}
    explain = {"rule": LONDON, "person": {"type": "ID", "identifier": str(londoners[0].pk)}}
    assert other_api.post("/people/3/segments/explain", explain).status_code == 404
    segment.refresh_from_db()
    assert segment.name == "Londoners"


def test_segments_need_a_key(db):
    for client in (ApiClient(None), ApiClient("wrong")):
        assert client.get("/people/3/segments").status_code == 401
        assert client.post("/people/3/segments/count", {"rule": {"version": 1}}).status_code == 401
