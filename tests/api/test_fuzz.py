"""Schemathesis generates requests from /api/openapi.json and sends them through the WSGI app
in-process with an owner's key: none may answer 5xx (a 4xx with Infobip's shape is fine)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from audience import api_auth
from audience.models import Profile

# Loading the document touches no database, so it can happen at collection.
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())
# The coverage phase adds hundreds of boundary cases per operation (minutes); the fuzzing phase
# with a bounded number of examples keeps the whole run well under a minute.
schema.config.phases.coverage.enabled = False


@pytest.fixture
def _keep_the_test_connection():
    # Django closes database connections when a WSGI request ends; its test Client turns that off
    # for the test's transaction, and so must a test that calls the WSGI app itself.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def owner_key(account, settings, _keep_the_test_connection):
    settings.API_RATE_LIMIT_PER_SECOND = 1_000_000
    # Something to find, so generated identifiers and filters meet real rows too.
    Profile.objects.create(account=account, external_id="1", first_name="Ana", city="Split")
    _, key = api_auth.api_key_create(account=account, name="fuzz")
    return key


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_is_a_server_error(case, owner_key):
    response = case.call(headers={"Authorization": f"App {owner_key}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} {case.query} {case.body!r} -> "
        f"{response.status_code} {response.text[:500]}"
    )
