"""Schemathesis generates requests from /api/openapi.json (valid and invalid ones) and sends them
through the WSGI app in-process with an owner's key. Every check runs, conformance included: no 5xx,
every status, content type, header and body as the document says, invalid data refused with a 4xx,
valid data accepted, undocumented methods answered 405 in the error shape."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS
from schemathesis.specs.openapi.checks import positive_data_acceptance, response_schema_conformance

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


# Valid by the document yet refused by design: what no JSON Schema can say (whether +385 91 is a
# real phone number, a domain an email domain, a rule or a filter meaningful). Every other check
# still runs on these; every check runs on all the rest.
MEANING_NOT_SHAPE = {
    ("GET", "/api/people/2/persons"),  # `filter` is the filter language, `identifier` a contact
    ("POST", "/api/people/2/persons"),  # phones, emails, custom attribute values by their type
    ("PUT", "/api/people/2/persons"),
    ("PATCH", "/api/people/2/persons"),
    ("DELETE", "/api/people/2/persons"),
    ("POST", "/api/people/2/persons/batch"),
    ("PATCH", "/api/people/2/persons/batch"),
    ("DELETE", "/api/people/2/persons/batch"),
    ("POST", "/api/people/2/customAttributes"),
    ("POST", "/api/people/3/events"),  # definitions, properties and identifiers that must exist
    ("POST", "/api/peopleevents/2/definitions"),
    ("POST", "/api/peopleevents/2/definitions/{definition_id}"),
    ("POST", "/api/people/2/tags"),
    ("PATCH", "/api/people/2/tags/{name}/persons"),
    ("DELETE", "/api/people/2/tags/{name}/persons"),
    ("POST", "/api/people/3/segments"),  # the rule language
    ("PUT", "/api/people/3/segments/{segment_id}"),
    ("POST", "/api/people/3/segments/count"),
    ("POST", "/api/people/3/segments/explain"),
    ("POST", "/api/platform/1/blocklists"),  # destinations
    ("DELETE", "/api/platform/1/blocklists"),
    ("POST", "/api/platform/1/blocklists/check"),
}
KEY = {}


@schema.auth()
class AppKey:
    """The owner's key, set the way the document says (so negative cases may leave it out)."""

    def get(self, case, ctx):
        return KEY["key"]

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"App {data}"}


@pytest.fixture
def owner_key(account, settings, _keep_the_test_connection):
    settings.API_RATE_LIMIT_PER_SECOND = 1_000_000
    # Something to find, so generated identifiers and filters meet real rows too.
    Profile.objects.create(account=account, external_id="1", first_name="Ana", city="Split")
    _, KEY["key"] = api_auth.api_key_create(account=account, name="fuzz")
    yield KEY["key"]
    KEY.clear()


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_does_what_its_document_says(case, owner_key):
    checks = CHECKS.get_all()
    assert response_schema_conformance in checks  # success bodies are checked against their schema
    if (case.method.upper(), case.path) in MEANING_NOT_SHAPE:
        checks = [check for check in checks if check is not positive_data_acceptance]
    case.call_and_validate(checks=checks)
