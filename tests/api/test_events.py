from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audience import services
from audience.models import Contact, Event, EventDefinition, Profile
from tests.api.conftest import ApiClient, error_id

PURCHASE = {
    "definitionId": "Purchase",
    "title": "Purchase",
    "description": "A completed order",
    "fields": [
        {"name": "total", "type": "Decimal"},
        {"name": "items", "type": "Numeric"},
        {"name": "gift", "type": "Boolean"},
        {"name": "category", "type": "String"},
        {"name": "shippedAt", "type": "DateTime"},
    ],
}


@pytest.fixture
def purchase(api):
    response = api.post("/peopleevents/2/definitions", PURCHASE)
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def jane(account):
    return services.profile_create(
        account=account, fields={"first_name": "Jane", "external_id": "j-1"}, emails=["jane@acme.com"]
    )


def _event(identifier: dict, **extra) -> dict:
    return {"definitionId": "Purchase", "identifier": identifier, **extra}


def test_it_accepts_a_batch_of_typed_events_with_202(api, purchase, jane):
    batch = [
        _event(
            {"id": str(jane.pk), "type": "ID"},
            eventId="order-1",
            occurredTime="2020-01-02T10:00:00Z",
            properties={
                "total": "12.50",
                "items": 3,
                "gift": "true",
                "category": "Books",
                "shippedAt": "2020-01-03T08:00:00Z",
            },
        ),
        _event({"id": "JANE@acme.com", "type": "EMAIL"}, properties={"Total": 7}),
    ]
    response = api.post("/people/3/events", batch)
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 2, "duplicates": 0}
    first = Event.objects.get(event_id="order-1")
    assert first.profile == jane and first.name == "Purchase"
    # Events of any age are accepted (back-filling), unlike Infobip's 30 days.
    assert first.occurred_at == dt.datetime(2020, 1, 2, 10, tzinfo=dt.UTC)
    assert first.properties["items"] == 3 and first.properties["gift"] is True
    assert first.properties["category"] == "Books"
    # Property names match regardless of case and are stored as defined.
    assert Event.objects.exclude(pk=first.pk).get().properties == {"total": 7}


def test_it_sets_a_future_time_to_now(api, purchase, jane):
    api.post(
        "/people/3/events",
        [_event({"id": "j-1", "type": "EXTERNAL_ID"}, occurredTime="2999-01-01T00:00:00Z")],
    )
    assert Event.objects.get().occurred_at <= timezone.now()


def test_it_is_idempotent_on_event_id(api, purchase, jane):
    batch = [_event({"id": "j-1", "type": "EXTERNAL_ID"}, eventId="e-1")] * 2
    assert api.post("/people/3/events", batch).json() == {"accepted": 1, "duplicates": 1}
    again = api.post("/people/3/events", batch[:1])
    assert again.status_code == 202 and again.json() == {"accepted": 0, "duplicates": 1}
    assert Event.objects.count() == 1


def test_it_refuses_the_whole_batch_with_per_item_problem_details(api, purchase, jane):
    batch = [
        _event({"id": "j-1", "type": "EXTERNAL_ID"}),
        _event({"id": "j-1", "type": "EXTERNAL_ID"}, properties={"items": "many", "colour": "red"}),
        {"definitionId": "Nope", "identifier": {"id": "j-1", "type": "EXTERNAL_ID"}},
        _event({"id": "999999", "type": "ID"}),
        _event({"id": "j-1", "type": "EXTERNAL_ID"}, eventId="has space", occurredTime="yesterday"),
    ]
    response = api.post("/people/3/events", batch)
    assert response.status_code == 400
    body = response.json()
    assert body["title"] == "One or more validation errors occurred." and body["status"] == 400
    assert body["traceId"]
    errors = {e["index"]: e for e in body["errors"]}
    assert sorted(errors) == [1, 2, 3, 4]
    assert errors[1]["code"] == 400504
    assert {d["property"] for d in errors[1]["details"]} == {"[1].properties.items", "[1].properties.colour"}
    assert errors[2]["code"] == 400504 and "Unknown event definition" in errors[2]["message"]
    assert errors[3]["code"] == 400505
    assert {d["property"] for d in errors[4]["details"]} == {"[4].eventId", "[4].occurredTime"}
    assert not Event.objects.exists()


def test_it_refuses_an_empty_or_too_large_batch(api, purchase):
    empty = api.post("/people/3/events", [])
    assert empty.status_code == 400 and empty.json()["errors"][0]["code"] == 400502
    item = _event({"id": "x", "type": "EXTERNAL_ID"})
    too_many = api.post("/people/3/events", [item] * 5001)
    assert too_many.status_code == 400 and too_many.json()["errors"][0]["code"] == 400503
    assert not Profile.objects.exists()


def test_it_refuses_a_body_that_is_not_a_list_of_events(api):
    response = api.post("/people/3/events", {"definitionId": "Purchase"})
    assert response.status_code == 400
    assert error_id(response) == "BAD_REQUEST"


@pytest.mark.parametrize(
    ("type_", "identifier", "lookup"),
    [
        ("PHONE", "+44 7911 123456", {"contacts__value": "+447911123456"}),
        ("EMAIL", "New@Acme.com", {"contacts__value": "new@acme.com"}),
        ("EXTERNAL_ID", "ext-9", {"external_id": "ext-9"}),
    ],
)
def test_it_creates_a_customer_for_an_unknown_phone_email_or_external_id(
    api, purchase, type_, identifier, lookup
):
    batch = [_event({"id": identifier, "type": type_})] * 2
    response = api.post("/people/3/events", batch)
    assert response.status_code == 202, response.content
    profile = Profile.objects.get(**lookup)
    assert profile.type == "customer"
    assert Event.objects.filter(profile=profile).count() == 2


def test_an_invalid_phone_to_create_is_an_item_error(api, purchase):
    response = api.post("/people/3/events", [_event({"id": "0123", "type": "PHONE"})])
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["index"] == 0 and error["details"][0]["property"] == "[0].identifier.id"
    assert not Profile.objects.exists() and not Contact.objects.exists()


def test_a_read_only_key_cannot_send_events(read_api, account):
    services.event_definition_create(account=account, name="Purchase")
    response = read_api.post("/people/3/events", [_event({"id": "x", "type": "EXTERNAL_ID"})])
    assert response.status_code == 403 and error_id(response) == "FORBIDDEN"
    assert not Event.objects.exists()


def test_another_accounts_key_neither_sees_nor_touches_our_people(api, other_api, purchase, jane):
    response = other_api.post("/people/3/events", [_event({"id": str(jane.pk), "type": "ID"})])
    assert response.status_code == 400  # its account has no such definition
    services.event_definition_create(account=other_api_account(other_api), name="Purchase")
    response = other_api.post("/people/3/events", [_event({"id": str(jane.pk), "type": "ID"})])
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == 400505
    other_api.post("/people/3/events", [_event({"id": "jane@acme.com", "type": "EMAIL"})])
    assert not Event.objects.filter(profile=jane).exists()
    # The outsider's event made a profile in its own account, not ours.
    assert Profile.objects.filter(account=jane.account).count() == 1


def other_api_account(client: ApiClient):
    from audience.models import ApiKey

    return ApiKey.objects.get(name="outsider key").account


def test_it_needs_a_key(db):
    for client in (ApiClient(None), ApiClient("wrong")):
        assert client.post("/people/3/events", []).status_code == 401
        assert client.get("/peopleevents/2/definitions").status_code == 401


# --- Event definitions ---------------------------------------------------------------------------


def test_definitions_crud(api, account, purchase):
    assert purchase["definitionId"] == "Purchase" and purchase["isInternalDefinition"] is False
    assert {"name": "total", "type": "Decimal"} in purchase["fields"]
    assert (
        api.post("/peopleevents/2/definitions", {**PURCHASE, "definitionId": "purchase"}).status_code == 409
    )
    listed = api.get("/peopleevents/2/definitions", searchText="purch").json()
    assert [d["definitionId"] for d in listed] == ["Purchase"]
    assert api.get("/peopleevents/2/definitions/PURCHASE").json()["description"] == "A completed order"
    updated = api.post(
        "/peopleevents/2/definitions/Purchase",
        {"description": "Orders", "fields": [{"name": "coupon", "type": "String"}]},
    )
    assert updated.status_code == 200
    assert updated.json()["description"] == "Orders"
    assert len(updated.json()["fields"]) == 6
    deleted = api.delete("/peopleevents/2/definitions/Purchase")
    assert deleted.status_code == 200
    assert api.get("/peopleevents/2/definitions/Purchase").status_code == 404


def test_definition_fields_are_add_only(api, purchase):
    retype = api.post(
        "/peopleevents/2/definitions/Purchase", {"fields": [{"name": "total", "type": "String"}]}
    )
    assert retype.status_code == 400
    assert "never changes" in retype.content.decode()
    # Sending fewer fields removes none.
    api.post("/peopleevents/2/definitions/Purchase", {"description": "x", "fields": []})
    assert len(api.get("/peopleevents/2/definitions/Purchase").json()["fields"]) == 5


def test_definitions_refuse_bad_input(api):
    bad_field = api.post(
        "/peopleevents/2/definitions",
        {"definitionId": "X", "fields": [{"name": "Bad Name", "type": "String"}]},
    )
    assert bad_field.status_code == 400
    assert "fields.0.name" in bad_field.json()["requestError"]["serviceException"]["validationErrors"]
    bad_type = api.post(
        "/peopleevents/2/definitions", {"definitionId": "X", "fields": [{"name": "a", "type": "List"}]}
    )
    assert bad_type.status_code == 400
    assert api.get("/peopleevents/2/definitions", limit=0).status_code == 400
    assert api.get("/peopleevents/2/definitions", offset=-1).status_code == 400


def test_a_predefined_definition_cannot_be_deleted(api, account):
    # Every account has the predefined App Launch, which backs the predefined segments.
    listed = api.get("/peopleevents/2/definitions").json()
    assert [d["isInternalDefinition"] for d in listed if d["definitionId"] == "App Launch"] == [True]
    response = api.delete("/peopleevents/2/definitions/App%20Launch")
    assert response.status_code == 409
    assert EventDefinition.objects.filter(name="App Launch").exists()


def test_definitions_read_only_key(read_api, account):
    services.event_definition_create(account=account, name="Purchase")
    assert read_api.get("/peopleevents/2/definitions").status_code == 200
    assert read_api.get("/peopleevents/2/definitions/Purchase").status_code == 200
    assert read_api.post("/peopleevents/2/definitions", PURCHASE).status_code == 403
    assert read_api.post("/peopleevents/2/definitions/Purchase", {"description": "x"}).status_code == 403
    assert read_api.delete("/peopleevents/2/definitions/Purchase").status_code == 403
    assert EventDefinition.objects.get(name="Purchase").description == ""


def test_definitions_of_another_account_are_404(other_api, account):
    services.event_definition_create(account=account, name="Purchase", description="secret")
    names = [d["definitionId"] for d in other_api.get("/peopleevents/2/definitions").json()]
    assert "Purchase" not in names
    for response in (
        other_api.get("/peopleevents/2/definitions/Purchase"),
        other_api.post("/peopleevents/2/definitions/Purchase", {"description": "x"}),
        other_api.delete("/peopleevents/2/definitions/Purchase"),
    ):
        assert response.status_code == 404 and b"secret" not in response.content
    assert EventDefinition.objects.get(name="Purchase").description == "secret"
