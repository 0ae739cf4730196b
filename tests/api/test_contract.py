"""The OpenAPI document is the truth: what it promises (statuses, limits, enums, shapes) is what the
API does, and every answer under /api/, even for a path or method that does not exist, is JSON in
the error shape. (tests/api/test_fuzz.py then checks it all with schemathesis.)"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from audience.models import AttributeDefinition, EventDefinition, Profile
from tests.api.conftest import error_id


@pytest.fixture
def document(client):
    return client.get("/api/openapi.json").json()


def test_every_operation_documents_its_errors_in_the_error_shape(document):
    operations = [op for path in document["paths"].values() for op in path.values()]
    assert len(operations) >= 36
    for operation in operations:
        responses = {str(status) for status in operation["responses"]}
        assert {"400", "401", "429", "500"} <= responses, operation["operationId"]
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["requestError"]


def test_limits_and_enums_are_in_the_document(document):
    params = {p["name"]: p["schema"] for p in document["paths"]["/api/people/2/persons"]["get"]["parameters"]}
    assert (params["limit"]["minimum"], params["limit"]["maximum"]) == (1, 1000)
    assert params["page"]["minimum"] == 1
    assert "pattern" in params["orderBy"]
    blocklist = {p["name"]: p for p in document["paths"]["/api/platform/1/blocklists"]["get"]["parameters"]}
    channels = json.dumps(blocklist["channel"]["schema"])
    assert "SMS" in channels and "FAX" not in channels
    batch = document["components"]["schemas"]["BatchCreate"]["properties"]["people"]
    assert (batch["minItems"], batch["maxItems"]) == (1, 1000)


@pytest.mark.parametrize("body", [[], True, 5, "hello", [1, 2, 3]])
def test_a_body_that_is_not_an_object_is_refused(api, account, body):
    EventDefinition.objects.create(account=account, name="Purchase")
    for path in ("/people/2/persons", "/peopleevents/2/definitions/Purchase"):
        response = api.post(path, body)
        assert response.status_code == 400, (path, response.content)
        assert error_id(response) == "BAD_REQUEST"
    assert not Profile.objects.filter(account=account).exists()


def test_a_contact_information_that_is_not_an_object_is_refused(api, account):
    response = api.post("/people/2/persons", {"firstName": "Ana", "contactInformation": "abc"})
    assert response.status_code == 400
    assert "contactInformation" in response.json()["requestError"]["serviceException"]["validationErrors"]
    assert not Profile.objects.filter(account=account).exists()


def test_an_unknown_field_is_refused_by_name(api, account):
    response = api.post("/people/2/persons", {"firstName": "Ana", "fristName": "Ana"})
    assert response.status_code == 400
    assert "fristName" in response.json()["requestError"]["serviceException"]["validationErrors"]


def test_an_unknown_channel_is_a_400_not_an_empty_list(api):
    response = api.get("/platform/1/blocklists", channel="FAX")
    assert response.status_code == 400
    assert "channel" in response.json()["requestError"]["serviceException"]["validationErrors"]
    assert api.get("/platform/1/blocklists", channel="sms").status_code == 200


def test_an_unknown_api_path_answers_json_404(api):
    response = api.get("/people/9/nothing")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert error_id(response) == "NOT_FOUND"
    assert Client().get("/api/nothing").json()["requestError"]["serviceException"]["messageId"] == "NOT_FOUND"


def test_a_method_a_path_does_not_take_answers_json_405_with_allow(api):
    response = api.put("/people/2/tags", {"name": "x"})
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert error_id(response) == "METHOD_NOT_ALLOWED"
    assert "GET" in response["Allow"]


def test_names_with_a_slash_can_be_reached(api, account):
    assert api.post("/people/2/tags", {"name": "A/B test"}).status_code == 200
    assert api.get("/people/2/tags/A/B test").json()["name"] == "A/B test"
    profile = Profile.objects.create(account=account, external_id="p1")
    added = api.patch(
        "/people/2/tags/A/B test/persons",
        {"people": [{"query": {"type": "ID", "identifier": str(profile.pk)}}]},
    )
    assert added.status_code == 200 and added.json()["added"] == 1
    created = api.post("/people/2/customAttributes", {"name": "size/colour", "dataType": "STRING"})
    assert created.status_code == 200
    assert api.get("/people/2/customAttributes/size/colour").json()["name"] == "size/colour"
    assert api.delete("/people/2/customAttributes/size/colour").status_code == 200
    assert not AttributeDefinition.objects.filter(account=account, name="size/colour").exists()
    assert api.post("/peopleevents/2/definitions", {"definitionId": "Sign up/in"}).status_code == 201
    assert api.get("/peopleevents/2/definitions/Sign up/in").json()["definitionId"] == "Sign up/in"
    assert api.delete("/peopleevents/2/definitions/Sign up/in").status_code == 200


def _resolve(document: dict, schema: dict) -> dict:
    ref = schema.get("$ref", "")
    return document["components"]["schemas"][ref.rpartition("/")[2]] if ref else schema


def _typed(document: dict, schema: dict) -> bool:
    """A body whose fields are named and typed: an object with properties, an array of such, or a
    choice of such; never a bare `{"type": "object"}` nor no schema at all."""
    schema = _resolve(document, schema)
    if "anyOf" in schema:
        return all(_typed(document, option) for option in schema["anyOf"])
    if schema.get("type") == "array":
        return _typed(document, schema["items"])
    return schema.get("type") == "object" and bool(schema.get("properties"))


def test_every_success_body_is_typed(document):
    checked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if not str(status).startswith("2") or str(status) == "204":
                    continue
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                assert schema and _typed(document, schema), f"{method.upper()} {path} {status}: {schema}"
                checked += 1
    assert checked >= 35


def test_a_success_body_has_exactly_the_documented_keys(document):
    person = document["components"]["schemas"]["PersonOut"]
    assert person["additionalProperties"] is False
    assert {"id", "type", "firstName", "contactInformation", "createdAt"} <= set(person["required"])
    assert person["properties"]["type"]["enum"] == ["CUSTOMER", "LEAD"]
    assert {"type": "null"} in person["properties"]["firstName"]["anyOf"]
    page = document["components"]["schemas"]["PersonsPage"]
    assert "totalCount" in page["properties"] and "totalCount" not in page["required"]


def test_a_bare_object_fails_the_typed_check(document):
    assert not _typed(document, {"type": "object", "additionalProperties": True})
    assert not _typed(document, {"type": "array", "items": {"type": "object"}})
