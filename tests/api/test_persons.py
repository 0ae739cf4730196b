from __future__ import annotations

import json

from audience import services
from audience.models import AttributeDefinition, Profile
from tests.api.conftest import error_id

JANE = {
    "externalId": "3",
    "firstName": "Jane",
    "lastName": "Smith",
    "city": "London",
    "country": "United Kingdom",
    "gender": "FEMALE",
    "birthDate": "1966-01-15",
    "tags": ["VIP Customers"],
    "contactInformation": {"phone": [{"number": "41793026727"}], "email": [{"address": "Jane@Acme.com"}]},
}


def test_it_creates_and_gets_a_person_in_infobip_shape(api, account):
    response = api.post("/people/2/persons", JANE)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["type"] == "CUSTOMER"  # the API's default, as Infobip's
    assert body["contactInformation"] == {
        "phone": [{"number": "41793026727"}],
        "email": [{"address": "jane@acme.com"}],
    }
    assert body["tags"] == ["VIP Customers"]
    for type_, identifier in [
        ("PHONE", "+41 79 302 67 27"),
        ("EMAIL", "JANE@acme.com"),
        ("EXTERNAL_ID", "3"),
        ("ID", str(body["id"])),
    ]:
        got = api.get("/people/2/persons", identifier=identifier, type=type_)
        assert got.status_code == 200 and got.json()["id"] == body["id"], type_


def test_another_accounts_key_gets_404_never_data(api, other_api):
    person = api.post("/people/2/persons", JANE).json()
    response = other_api.get("/people/2/persons", identifier=str(person["id"]), type="ID")
    assert response.status_code == 404
    assert b"Jane" not in response.content
    assert other_api.get("/people/2/persons").json()["persons"] == []
    assert other_api.delete("/people/2/persons", identifier="3", type="EXTERNAL_ID").status_code == 404
    assert Profile.objects.filter(pk=person["id"]).exists()


def test_it_refuses_invalid_input_naming_the_field(api):
    response = api.post("/people/2/persons", {"gender": "OTHER"})
    assert response.status_code == 400
    assert "gender" in response.json()["requestError"]["serviceException"]["validationErrors"]
    response = api.post("/people/2/persons", {"contactInformation": {"phone": [{"number": "01234 567890"}]}})
    assert response.status_code == 400
    assert "international format" in response.content.decode()


def test_a_contact_of_another_person_is_a_conflict(api):
    api.post("/people/2/persons", JANE)
    response = api.post(
        "/people/2/persons", {"contactInformation": {"email": [{"address": "jane@acme.com"}]}}
    )
    assert response.status_code == 409


def test_put_replaces_and_patch_appends(api):
    api.post("/people/2/persons", JANE)
    patched = api.patch(
        "/people/2/persons",
        {"city": "Paris", "tags": ["New"], "contactInformation": {"email": [{"address": "j2@acme.com"}]}},
        identifier="3",
        type="EXTERNAL_ID",
    ).json()
    assert patched["city"] == "Paris" and patched["lastName"] == "Smith"
    assert sorted(patched["tags"]) == ["New", "VIP Customers"]
    assert len(patched["contactInformation"]["email"]) == 2
    replaced = api.put(
        "/people/2/persons", {"externalId": "3", "firstName": "Janet"}, identifier="3", type="EXTERNAL_ID"
    ).json()
    assert replaced["firstName"] == "Janet" and replaced["lastName"] is None and replaced["city"] is None
    assert replaced["tags"] == [] and replaced["contactInformation"] == {"phone": [], "email": []}


def test_list_pages_orders_and_filters(api, account):
    people = [("Alex", "Zagreb"), ("Bea", "Split"), ("Alex", "Split"), ("Cid", "Zagreb")]
    for i, (name, city) in enumerate(people):
        services.profile_create(
            account=account, fields={"first_name": name, "external_id": f"e{i}", "city": city}
        )
    body = api.get(
        "/people/2/persons", limit=2, page=1, orderBy="firstName:desc", includeTotalCount="true"
    ).json()
    assert [p["firstName"] for p in body["persons"]] == ["Cid", "Bea"]
    assert body["totalCount"] == 4
    flt = json.dumps({"#and": [{"firstName": "alex"}, {"#ne": {"city": "Split"}}]})
    found = api.get("/people/2/persons", filter=flt).json()["persons"]
    assert [p["externalId"] for p in found] == ["e0"]
    flt = json.dumps({"#or": [{"#startsWith": {"firstName": "Be"}}, {"#contains": {"firstName": "id"}}]})
    assert {p["firstName"] for p in api.get("/people/2/persons", filter=flt).json()["persons"]} == {
        "Bea",
        "Cid",
    }


def test_list_refuses_bad_parameters(api):
    assert api.get("/people/2/persons", limit=1001).status_code == 400
    assert api.get("/people/2/persons", orderBy="city:asc").status_code == 400
    assert api.get("/people/2/persons", filter="{not json").status_code == 400
    response = api.get("/people/2/persons", filter=json.dumps({"#like": {"city": "x"}}))
    assert response.status_code == 400 and "unknown operator" in response.content.decode()


def test_batch_create_reports_per_item_and_limits(api):
    response = api.post(
        "/people/2/persons/batch",
        {"people": [JANE, {"contactInformation": {"email": [{"address": "jane@acme.com"}]}}]},
    )
    assert response.status_code == 207
    results = response.json()["results"]
    assert results[0]["status"] == 200 and results[1]["status"] == 409 and results[1]["index"] == 1
    too_many = api.post("/people/2/persons/batch", {"people": [{}] * 1001})
    assert too_many.status_code == 400 and error_id(too_many) == "BAD_REQUEST"


def test_batch_update_and_delete_by_query(api):
    api.post("/people/2/persons", JANE)
    response = api.patch(
        "/people/2/persons/batch",
        {
            "people": [
                {"query": {"type": "EXTERNAL_ID", "identifier": "3"}, "update": {"city": "Rome"}},
                {"query": {"type": "EXTERNAL_ID", "identifier": "nope"}, "update": {"city": "Rome"}},
            ]
        },
    )
    assert response.status_code == 207
    assert response.json()["results"][1]["errors"][0]["message"] == "There is no person matching the query"
    deleted = api.delete(
        "/people/2/persons/batch", {"people": [{"query": {"type": "EXTERNAL_ID", "identifier": "3"}}]}
    )
    assert deleted.status_code == 200
    assert not Profile.objects.filter(external_id="3").exists()


def test_delete_one_person(api):
    api.post("/people/2/persons", JANE)
    assert api.delete("/people/2/persons", identifier="3", type="EXTERNAL_ID").status_code == 200
    assert api.get("/people/2/persons", identifier="3", type="EXTERNAL_ID").status_code == 404


def test_custom_attributes_crud_and_typed_values(api, account):
    created = api.post("/people/2/customAttributes", {"name": "Contract Expiry", "dataType": "DATE"})
    assert created.status_code == 200 and created.json()["dataType"] == "DATE"
    assert (
        api.post("/people/2/customAttributes", {"name": "contract expiry", "dataType": "STRING"}).status_code
        == 409
    )
    listed = api.get("/people/2/customAttributes").json()
    assert [a["name"] for a in listed["customAttributes"]] == ["Contract Expiry"]
    bad = api.post("/people/2/persons", {"externalId": "x", "customAttributes": {"Contract Expiry": "soon"}})
    assert bad.status_code == 400
    ok = api.post(
        "/people/2/persons", {"externalId": "x", "customAttributes": {"Contract Expiry": "2027-01-31"}}
    )
    assert ok.json()["customAttributes"] == {"Contract Expiry": "2027-01-31"}
    in_use = api.delete("/people/2/customAttributes/Contract%20Expiry")
    assert in_use.status_code == 409
    api.delete("/people/2/persons", identifier="x", type="EXTERNAL_ID")
    assert api.delete("/people/2/customAttributes/Contract%20Expiry").status_code == 200
    assert not AttributeDefinition.objects.filter(account=account).exists()
    assert api.get("/people/2/customAttributes/nope").status_code == 404


def test_it_refuses_nul_characters_naming_the_field(api):
    """PostgreSQL text can't hold \\u0000: a 400 that says where it is, not a 500 (found by the fuzzer)."""
    response = api.post(
        "/people/2/persons", {"firstName": "Ana", "address": "a\x00b", "tags": ["ok", "\x00"]}
    )
    assert response.status_code == 400
    errors = response.json()["requestError"]["serviceException"]["validationErrors"]
    assert set(errors) == {"address", "tags[1]"} and "NUL" in errors["address"][0]
    assert api.get("/people/2/persons", filter="\x00").status_code == 400
    assert api.post("/people/2/persons", {"firstName": "Ana"}).status_code < 300


def test_it_filters_by_tag_and_its_negation_within_the_account(api, other_api, account, other_account):
    """`tags` in the filter reads the account's own tags: a tag nobody has leaves `#notContain`
    with everyone (it used to read NOT IN (NULL), which holds for no one), and another account's
    tag of the same name selects nothing here."""
    from tags import services as tag_services

    ann = services.profile_create(account=account, fields={"first_name": "Ann", "external_id": "ann"})
    services.profile_create(account=account, fields={"first_name": "Bob", "external_id": "bob"})
    vip = tag_services.tag_get_or_create(account=account, name="VIP")
    tag_services.tag_get_or_create(account=account, name="Unused")
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[ann.pk])
    stranger = services.profile_create(
        account=other_account, fields={"first_name": "Cy", "external_id": "cy"}
    )
    theirs = tag_services.tag_get_or_create(account=other_account, name="Theirs")
    tag_services.tags_add(account=other_account, tags=[theirs], profile_ids=[stranger.pk])

    def found(client, flt: dict) -> set[str]:
        return {
            p["externalId"] for p in client.get("/people/2/persons", filter=json.dumps(flt)).json()["persons"]
        }

    assert found(api, {"tags": "vip"}) == {"ann"}
    assert found(api, {"#notContain": {"tags": "VIP"}}) == {"bob"}
    assert found(api, {"#notContain": {"tags": "Unused"}}) == {"ann", "bob"}
    assert found(api, {"tags": "Theirs"}) == set()
    assert found(api, {"#notContain": {"tags": "Theirs"}}) == {"ann", "bob"}
    assert found(other_api, {"tags": "VIP"}) == set()
