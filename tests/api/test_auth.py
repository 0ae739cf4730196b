from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audience import api_auth
from audience.models import ApiKey
from tests.api.conftest import ApiClient, error_id


def test_it_refuses_a_missing_or_unknown_key_with_401(db):
    for client in (ApiClient(None), ApiClient("not-a-key")):
        response = client.get("/people/2/persons")
        assert response.status_code == 401
        assert error_id(response) == "UNAUTHORIZED"


def test_it_refuses_a_revoked_key(account):
    row, key = api_auth.api_key_create(account=account, name="old")
    api_auth.api_key_revoke(key=row)
    assert ApiClient(key).get("/people/2/persons").status_code == 401


def test_keys_are_stored_hashed(account):
    row, key = api_auth.api_key_create(account=account, name="x")
    assert key not in row.key_hash and row.key_hash == api_auth.key_hash(key)
    assert row.prefix == key[:8]


def test_a_read_only_key_reads_but_cannot_write(read_api):
    assert read_api.get("/people/2/persons").status_code == 200
    response = read_api.post("/people/2/persons", {"firstName": "Ana", "externalId": "x"})
    assert response.status_code == 403
    assert error_id(response) == "FORBIDDEN"
    # Counting a rule is a read, even though it is a POST.
    assert read_api.post("/people/3/segments/count", {"rule": {"version": 1}}).status_code == 200


def test_it_rate_limits_per_key_with_429(api, settings):
    settings.API_RATE_LIMIT_PER_SECOND = 3
    statuses = [api.get("/people/2/tags").status_code for _ in range(6)]
    assert 429 in statuses
    limited = next(r for r in (api.get("/people/2/tags") for _ in range(3)) if r.status_code == 429)
    assert error_id(limited) == "TOO_MANY_REQUESTS"


def test_the_openapi_document_is_served(db, client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/people/2/persons",
        "/api/people/2/tags",
        "/api/people/3/segments/count",
        "/api/platform/1/blocklists",
        "/api/people/3/events",
        "/api/peopleevents/2/definitions",
    ]:
        assert path in paths
    assert client.get("/api/docs").status_code == 200


def test_create_api_key_prints_a_working_key_once(account):
    out, err = StringIO(), StringIO()
    call_command("create_api_key", "--account", "Acme", "--read-only", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert ApiKey.objects.get(account=account).scope == "read"
    assert "shown only once" in err.getvalue()
    assert ApiClient(key).get("/people/2/persons").status_code == 200


def test_create_api_key_names_a_missing_account(db):
    with pytest.raises(CommandError, match="no account named 'Nope'"):
        call_command("create_api_key", "--account", "Nope")


def test_the_docs_page_loads_swagger_from_this_server_under_the_csp(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    page = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
