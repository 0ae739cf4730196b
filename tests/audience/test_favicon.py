from __future__ import annotations

from django.test import Client


def _get_followed(client: Client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("favicon.ico")
    return client.get(response["Location"])


def test_it_serves_a_real_favicon_to_anyone(db, owner_client, outsider_client):
    for client in (Client(), owner_client, outsider_client):
        icon = _get_followed(client)
        assert icon.status_code == 200
        assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_it_links_the_favicon_from_every_page(owner_client):
    for url in ("/login/", "/people/", "/segments/"):
        client = owner_client if url != "/login/" else Client()
        assert '<link rel="icon" href="/static/favicon.ico"' in client.get(url).content.decode()
