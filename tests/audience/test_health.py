from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.urls import reverse

from audience.celery import app as celery_app


@pytest.fixture
def unreachable_broker(monkeypatch):
    # Celery reads CELERY_BROKER_URL from the environment before its own configuration.
    url = "redis://:hunter2@127.0.0.1:1/9"
    before = celery_app.conf.broker_url
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    celery_app.conf.broker_url = url
    yield
    celery_app.conf.broker_url = before


def test_it_says_which_check_failed_and_nothing_more(db, client, unreachable_broker, caplog):
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {
        "status": "error",
        "checks": ["database: ok", "broker: unavailable"],
        "counts": {"engine": "orm"},
    }
    # The details (address, port) are for the operator's log, not for anyone who asks.
    assert "127.0.0.1" not in response.content.decode()
    assert any("broker did not answer" in record.message for record in caplog.records)


@pytest.mark.postgres
@pytest.mark.skipif(not django_settings.IS_POSTGRES, reason="a server to be unreachable: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_database_failure_names_no_host_port_or_database(client):
    before = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
    try:
        response = client.get(reverse("healthz"))
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(before)
    assert response.status_code == 503
    assert response.json()["checks"][0] == "database: unavailable"
    assert "127.0.0.1" not in response.content.decode() and "5432" not in response.content.decode()
