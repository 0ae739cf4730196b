"""Every API operation that names a row (a path parameter, or the `identifier` or `destination`
query), enumerated from the OpenAPI document so a new route can't be missed: a key of another
account gets 404 (read-write or read-only), never 403; a read-only key of the row's account gets
403 for a change, once the row is found; the owner's read-write key reaches it (docs/permissions.md)."""

from __future__ import annotations

import pytest
from django.test import Client

from audience import api_auth, services
from audience.models import ApiScope, AttributeDefinition, EventDefinition
from dnc import services as dnc_services
from dnc.models import How, Source
from segments import services as segment_services
from tags import services as tag_services
from tests.api.conftest import ApiClient, error_id

RULE = {
    "version": 1,
    "attributes": {"match": "all", "conditions": [{"attribute": "city", "operator": "is", "value": "Split"}]},
}
PHONE = "+385911234567"
PERSON = {"type": "EXTERNAL_ID", "identifier": "p1"}
# What each operation is sent: path and query values naming this account's rows, and a valid body.
REQUESTS = {
    ("get", "/api/people/2/persons"): {"query": PERSON},
    ("put", "/api/people/2/persons"): {"query": PERSON, "body": {"externalId": "p1", "firstName": "Ana"}},
    ("patch", "/api/people/2/persons"): {"query": PERSON, "body": {"city": "Zagreb"}},
    ("delete", "/api/people/2/persons"): {"query": PERSON},
    ("get", "/api/people/2/customAttributes/{name}"): {"path": {"name": "Tier"}},
    ("delete", "/api/people/2/customAttributes/{name}"): {"path": {"name": "Tier"}},
    ("get", "/api/peopleevents/2/definitions/{definition_id}"): {"path": {"definition_id": "Purchase"}},
    ("post", "/api/peopleevents/2/definitions/{definition_id}"): {
        "path": {"definition_id": "Purchase"},
        "body": {"fields": [{"name": "total", "type": "Decimal"}]},
    },
    ("delete", "/api/peopleevents/2/definitions/{definition_id}"): {"path": {"definition_id": "Purchase"}},
    ("get", "/api/people/2/tags/{name}"): {"path": {"name": "VIP"}},
    ("delete", "/api/people/2/tags/{name}"): {"path": {"name": "VIP"}},
    ("patch", "/api/people/2/tags/{name}/persons"): {
        "path": {"name": "VIP"},
        "body": {"people": [{"query": PERSON}]},
    },
    ("delete", "/api/people/2/tags/{name}/persons"): {
        "path": {"name": "VIP"},
        "body": {"people": [{"query": PERSON}]},
    },
    ("get", "/api/people/3/segments/{segment_id}"): {"path": {"segment_id": "segment"}},
    ("put", "/api/people/3/segments/{segment_id}"): {
        "path": {"segment_id": "segment"},
        "body": {"name": "Split", "rule": RULE},
    },
    ("delete", "/api/people/3/segments/{segment_id}"): {"path": {"segment_id": "segment"}},
    ("get", "/api/people/3/segments/{segment_id}/persons"): {"path": {"segment_id": "segment"}},
    ("delete", "/api/platform/1/blocklists"): {
        "query": {"destination": PHONE, "sender": "Shop", "channel": "SMS"}
    },
}


# `destination` here filters a list: another account's key gets an empty list (tests/api/test_blocklists.py).
LISTS = {("get", "/api/platform/1/blocklists")}


def _row_operations() -> list[tuple[str, str]]:
    document = Client().get("/api/openapi.json").json()
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] in ("path", "query")}
            if ("{" in path or names & set(api_auth.ROW_QUERY)) and (method, path) not in LISTS:
                found.append((method, path))
    return sorted(found)


@pytest.fixture
def our_rows(account):
    profile = services.profile_create(account=account, fields={"external_id": "p1", "city": "Split"})
    tag = tag_services.tag_create(account=account, name="VIP")
    tag_services.tags_add(account=account, tags=[tag], profile_ids=[profile.pk])
    AttributeDefinition.objects.create(account=account, name="Tier", type="text")
    EventDefinition.objects.create(account=account, name="Purchase")
    dnc_services.dnc_entries_add(
        accounts=[account],
        entries=[{"contact": PHONE, "sender": "Shop", "channel": "SMS"}],
        source=Source.API,
        how=How.API,
    )
    return {"segment": segment_services.segment_create(account=account, name="Splitters", rule=RULE)}


def _call(client: ApiClient, method: str, path: str, spec: dict, rows: dict):
    values = {k: str(rows[v].pk) if v in rows else v for k, v in spec.get("path", {}).items()}
    url = path.removeprefix("/api").format(**values)
    return (
        getattr(client, method)(url, spec.get("body"), **spec.get("query", {}))
        if method != "get"
        else (client.get(url, **spec.get("query", {})))
    )


def test_every_operation_naming_a_row_is_checked():
    assert sorted(REQUESTS) == _row_operations()


@pytest.mark.parametrize(("method", "path"), sorted(REQUESTS))
def test_a_row_answers_404_to_another_account_and_403_to_a_read_only_key_of_its_own(
    method, path, account, other_account, our_rows
):
    spec = REQUESTS[(method, path)]
    keys = {
        (owner, scope): ApiClient(api_auth.api_key_create(account=owner, name=f"{scope}", scope=scope)[1])
        for owner in (account, other_account)
        for scope in (ApiScope.READ, ApiScope.READ_WRITE)
    }
    for scope in (ApiScope.READ, ApiScope.READ_WRITE):
        response = _call(keys[(other_account, scope)], method, path, spec, our_rows)
        assert response.status_code == 404, (method, path, scope, response.content)
        assert error_id(response) == "NOT_FOUND"
    response = _call(keys[(account, ApiScope.READ)], method, path, spec, our_rows)
    if method == "get":
        assert response.status_code == 200, (method, path, response.content)
    else:
        assert response.status_code == 403, (method, path, response.content)
        assert error_id(response) == "FORBIDDEN"
    response = _call(keys[(account, ApiScope.READ_WRITE)], method, path, spec, our_rows)
    assert response.status_code in (200, 202, 204), (method, path, response.content)
