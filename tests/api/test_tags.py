from __future__ import annotations

import pytest

from audience import services
from segments import services as segment_services
from tags import services as tag_services
from tags.models import Tag
from tests.api.conftest import ApiClient, error_id


@pytest.fixture
def people(account):
    return [
        services.profile_create(account=account, fields={"external_id": "e1"}, phones=["+385911234567"]),
        services.profile_create(account=account, fields={"external_id": "e2"}, emails=["b@acme.com"]),
        services.profile_create(account=account, fields={"external_id": "e3"}),
    ]


def _query(type_: str, identifier: str) -> dict:
    return {"query": {"type": type_, "identifier": identifier}}


def test_it_creates_gets_and_lists_tags(api):
    created = api.post("/people/2/tags", {"name": "Vip"})
    assert created.status_code == 200
    assert set(created.json()) == {"id", "name", "createdAt", "modifiedAt"}
    for name in ("alpha", "Zed"):
        api.post("/people/2/tags", {"name": name})
    assert api.get("/people/2/tags/VIP").json()["id"] == created.json()["id"]
    body = api.get("/people/2/tags", limit=2, page=1, orderBy="name:desc", includeTotalCount="true").json()
    assert [t["name"] for t in body["tags"]] == ["Zed", "Vip"]
    assert body["totalCount"] == 3 and body["limit"] == 2 and body["page"] == 1
    second = api.get("/people/2/tags", limit=2, page=2, orderBy="name:desc").json()
    assert [t["name"] for t in second["tags"]] == ["alpha"] and "totalCount" not in second


def test_a_duplicate_name_is_a_conflict(api):
    api.post("/people/2/tags", {"name": "Vip"})
    response = api.post("/people/2/tags", {"name": "VIP"})
    assert response.status_code == 409 and error_id(response) == "CONFLICT"
    assert Tag.objects.count() == 1


def test_it_refuses_bad_tag_input(api):
    assert api.post("/people/2/tags", {"name": ""}).status_code == 400
    assert api.post("/people/2/tags", {"name": "x" * 257}).status_code == 400
    assert api.get("/people/2/tags", limit=1001).status_code == 400
    assert api.get("/people/2/tags", page=0).status_code == 400
    assert api.get("/people/2/tags", orderBy="colour:asc").status_code == 400
    assert api.get("/people/2/tags/nope").status_code == 404


def test_it_deletes_a_tag_unless_in_use(api, account):
    tag = tag_services.tag_create(account=account, name="Vip")
    segment_services.segment_create(
        account=account,
        name="VIPs",
        rule={
            "version": 1,
            "attributes": {
                "match": "all",
                "conditions": [{"attribute": "tags", "operator": "is", "value": "Vip"}],
            },
        },
    )
    refused = api.delete("/people/2/tags/Vip")
    assert refused.status_code == 409 and "VIPs" in refused.content.decode()
    assert Tag.objects.filter(pk=tag.pk).exists()
    tag_services.tag_create(account=account, name="Old")
    assert api.delete("/people/2/tags/old").status_code == 200
    assert not Tag.objects.filter(name="Old").exists()


def test_it_adds_and_removes_a_tag_by_any_identifier(api, account, people):
    tag_services.tag_create(account=account, name="Vip")
    body = {
        "people": [
            _query("PHONE", "+385 91 123 4567"),
            _query("EMAIL", "B@acme.com"),
            _query("EXTERNAL_ID", "e3"),
            _query("ID", str(people[0].pk)),
            _query("EXTERNAL_ID", "missing"),
        ]
    }
    response = api.patch("/people/2/tags/vip/persons", body)
    assert response.status_code == 200
    result = response.json()
    assert result["added"] == 3 and result["matched"] == 4
    assert result["results"] == [
        {
            "query": {"type": "EXTERNAL_ID", "identifier": "missing"},
            "status": 404,
            "errors": [{"message": "There is no person matching the query"}],
        }
    ]
    assert set(Tag.objects.get(name="Vip").profile_tags.values_list("profile_id", flat=True)) == {
        p.pk for p in people
    }
    removed = api.delete("/people/2/tags/Vip/persons", {"people": [_query("EXTERNAL_ID", "e3")]})
    assert removed.status_code == 200 and removed.json()["removed"] == 1
    assert Tag.objects.get(name="Vip").profile_tags.count() == 2


def test_people_batches_are_limited_to_1000(api, account):
    tag_services.tag_create(account=account, name="Vip")
    too_many = {"people": [_query("EXTERNAL_ID", str(i)) for i in range(1001)]}
    for response in (
        api.patch("/people/2/tags/Vip/persons", too_many),
        api.delete("/people/2/tags/Vip/persons", too_many),
    ):
        assert response.status_code == 400
        assert "people" in response.json()["requestError"]["serviceException"]["validationErrors"]
    assert api.patch("/people/2/tags/Vip/persons", {"people": []}).status_code == 400
    assert api.patch("/people/2/tags/Nope/persons", {"people": [_query("ID", "1")]}).status_code == 404


def test_a_read_only_key_reads_tags_but_cannot_change_them(read_api, account, people):
    tag_services.tag_create(account=account, name="Vip")
    assert read_api.get("/people/2/tags").status_code == 200
    assert read_api.get("/people/2/tags/Vip").status_code == 200
    body = {"people": [_query("EXTERNAL_ID", "e1")]}
    for response in (
        read_api.post("/people/2/tags", {"name": "New"}),
        read_api.delete("/people/2/tags/Vip"),
        read_api.patch("/people/2/tags/Vip/persons", body),
        read_api.delete("/people/2/tags/Vip/persons", body),
    ):
        assert response.status_code == 403 and error_id(response) == "FORBIDDEN"
    assert list(Tag.objects.values_list("name", flat=True)) == ["Vip"]
    assert not Tag.objects.get(name="Vip").profile_tags.exists()


def test_another_accounts_key_never_sees_our_tags(other_api, account, people):
    tag = tag_services.tag_create(account=account, name="Secret")
    tag_services.tags_add(account=account, tags=[tag], profile_ids=[people[0].pk])
    assert other_api.get("/people/2/tags", includeTotalCount="true").json()["tags"] == []
    body = {"people": [_query("ID", str(people[1].pk))]}
    for response in (
        other_api.get("/people/2/tags/Secret"),
        other_api.delete("/people/2/tags/Secret"),
        other_api.patch("/people/2/tags/Secret/persons", body),
        other_api.delete("/people/2/tags/Secret/persons", body),
    ):
        assert response.status_code == 404 and b"Secret" not in response.content.replace(b"'Secret'", b"")
    # Its own tag of the same name can't reach our people either.
    other_api.post("/people/2/tags", {"name": "Secret"})
    result = other_api.patch("/people/2/tags/Secret/persons", body).json()
    assert result["added"] == 0 and result["results"][0]["status"] == 404
    assert Tag.objects.get(pk=tag.pk).profile_tags.count() == 1


def test_tags_need_a_key(db):
    for client in (ApiClient(None), ApiClient("wrong")):
        assert client.get("/people/2/tags").status_code == 401
        assert client.post("/people/2/tags", {"name": "x"}).status_code == 401
        assert client.delete("/people/2/tags/x").status_code == 401
