from __future__ import annotations

from audience import api_auth
from audience.models import ApiKey
from tests.api.conftest import ApiClient

LIST = "/configuration/api-keys/"
NEW = "/configuration/api-keys/new/"


def _revoke(pk: int) -> str:
    return f"/configuration/api-keys/{pk}/revoke/"


def test_it_lists_keys_with_their_details(owner_client, owner, account):
    api_auth.api_key_create(account=account, name="CRM sync", user=owner)
    old, _ = api_auth.api_key_create(account=account, name="Old script", scope="read")
    api_auth.api_key_revoke(key=old)
    response = owner_client.get(LIST)
    assert response.status_code == 200
    page = response.content.decode()
    assert "CRM sync" in page and "Old script" in page and "Read only" in page and "Revoked" in page
    assert owner.get_username() in page and "Never" in page
    assert page.count("Revoke the key") == 1  # a revoked key has no Revoke button
    assert response.context["nav"] == "configuration"


def test_it_shows_an_empty_state(owner_client):
    assert "No API keys yet" in owner_client.get(LIST).content.decode()


def test_it_creates_a_key_and_shows_it_once(owner_client, owner, account):
    response = owner_client.post(NEW, {"name": "CRM sync", "scope": "read"})
    assert response.status_code == 201
    key = response.context["new_key"]
    assert key in response.content.decode() and "no-store" in response["Cache-Control"]
    row = ApiKey.objects.get(account=account)
    assert (row.name, row.scope, row.created_by) == ("CRM sync", "read", owner)
    assert key not in owner_client.get(LIST).content.decode()
    assert ApiClient(key).get("/people/2/persons").status_code == 200


def test_it_refuses_a_key_without_a_name(owner_client):
    response = owner_client.post(NEW, {"name": "  ", "scope": "read_write"})
    assert response.status_code == 400
    assert "is-invalid" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_it_revokes_a_key_after_confirmation(owner_client, account):
    row, key = api_auth.api_key_create(account=account, name="CRM sync")
    assert 'data-confirm="Revoke the key CRM sync?' in owner_client.get(LIST).content.decode()
    response = owner_client.post(_revoke(row.pk))
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert ApiClient(key).get("/people/2/persons").status_code == 401


def test_marketers_and_viewers_cannot_manage_keys(teammate_client, viewer_client, account):
    row, _ = api_auth.api_key_create(account=account, name="CRM sync")
    for client in (teammate_client, viewer_client):
        assert client.get(LIST).status_code == 403
        assert client.post(NEW, {"name": "Mine", "scope": "read_write"}).status_code == 403
        assert client.post(_revoke(row.pk)).status_code == 403
    row.refresh_from_db()
    assert row.revoked_at is None and ApiKey.objects.count() == 1


def test_an_outsider_gets_404_and_never_our_keys(outsider_client, account):
    row, _ = api_auth.api_key_create(account=account, name="Secret CRM sync")
    assert b"Secret CRM sync" not in outsider_client.get(LIST).content
    assert outsider_client.post(_revoke(row.pk)).status_code == 404
    row.refresh_from_db()
    assert row.revoked_at is None


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(LIST)
    assert response.status_code == 302 and "/login/" in response["Location"]
