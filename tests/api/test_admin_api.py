from __future__ import annotations

import audience.admin_api  # noqa: F401  (registers ApiKey until audience/admin.py imports it)
from audience import api_auth
from audience.models import ApiKey


def test_it_lists_keys_without_their_secret(admin_client, account):
    _, key = api_auth.api_key_create(account=account, name="CRM sync")
    response = admin_client.get("/admin/audience/apikey/")
    assert response.status_code == 200
    assert b"CRM sync" in response.content and key.encode() not in response.content
    assert admin_client.get("/admin/audience/apikey/add/").status_code == 403


def test_it_revokes_selected_keys(admin_client, account):
    row, key = api_auth.api_key_create(account=account, name="CRM sync")
    response = admin_client.post(
        "/admin/audience/apikey/", {"action": "revoke", "_selected_action": [row.pk]}, follow=True
    )
    assert response.status_code == 200 and b"1 key(s) revoked" in response.content
    assert ApiKey.objects.get(pk=row.pk).revoked_at is not None
