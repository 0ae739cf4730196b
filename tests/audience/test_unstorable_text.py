"""Text PostgreSQL can't store (NUL, `\\u0000` in JSON; an unpaired surrogate, `\\ud800`) is refused
at every way in with a message naming the field, never a database error and a 500: one check,
`audience.text`, used by the middleware, the rule validator, the services and the import."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.urls import reverse

from audience import api_auth, services
from audience.models import AttributeDefinition, Profile
from audience.text import NUL_REFUSED, SURROGATE_REFUSED, text_unstorable
from dnc import services as dnc_services
from dnc.models import DncEntry
from imports.models import ImportJob
from segments.models import Segment
from tags import services as tag_services
from tags.models import Tag
from tests.api.conftest import ApiClient
from tests.imports.conftest import job_from, run

pytestmark = pytest.mark.django_db

NUL_RULE = {
    "version": 1,
    "attributes": {
        "match": "all",
        "conditions": [{"attribute": "city", "operator": "is", "value": "Za\x00greb"}],
    },
}


@pytest.fixture
def api(account):
    _, key = api_auth.api_key_create(account=account, name="owner key")
    return ApiClient(key)


def test_one_check_names_both_kinds():
    assert text_unstorable("Zagreb") is None
    assert text_unstorable("a\x00b") == NUL_REFUSED
    assert text_unstorable("a\ud800b") == SURROGATE_REFUSED


def test_the_segment_editor_refuses_a_nul_in_a_rule_value(owner_client):
    """The rule arrives as JSON text in a form field: `\\u0000` inside it is no raw NUL."""
    body = {"name": "Zagreb", "rule": json.dumps(NUL_RULE)}
    assert "\x00" not in body["rule"]
    response = owner_client.post(reverse("segments:new"), body)
    assert response.status_code in (200, 400)
    assert "contains a nul character (\\u0000)" in response.content.decode().lower()
    assert not Segment.objects.exists()


def test_the_live_count_refuses_a_nul_in_a_rule_value(owner_client):
    response = owner_client.get(reverse("segments:count"), {"rule": json.dumps(NUL_RULE)})
    assert response.status_code < 500 and "contains a nul character" in response.content.decode().lower()


def test_the_segments_api_refuses_nul_and_surrogates(api):
    for value, reason in (("Za\x00greb", "NUL"), ("Za\ud800greb", "unpaired surrogate")):
        rule = {**NUL_RULE, "attributes": {**NUL_RULE["attributes"]}}
        rule["attributes"]["conditions"] = [{"attribute": "city", "operator": "is", "value": value}]
        response = api.post("/people/3/segments", {"name": "Zagreb", "rule": rule})
        assert response.status_code == 400, response.content
        assert reason in response.content.decode()
    assert not Segment.objects.exists()


def test_the_api_filter_names_the_field(api):
    flt = json.dumps({"#contains": {"city": "a\ud800b"}})
    response = api.get("/people/2/persons", filter=flt)
    assert response.status_code == 400 and "unpaired surrogate" in response.content.decode()


def test_profile_fields_and_attributes_through_the_api(api, account):
    AttributeDefinition.objects.create(account=account, name="Note", type="text")
    response = api.post("/people/2/persons", {"externalId": "x", "customAttributes": {"Note": "a\x00"}})
    assert response.status_code == 400
    errors = response.json()["requestError"]["serviceException"]["validationErrors"]
    assert list(errors) == ["customAttributes.Note"] and NUL_REFUSED in errors["customAttributes.Note"]
    response = api.post("/people/2/persons", {"externalId": "x", "firstName": "\udc00"})
    assert (
        response.status_code == 400
        and "firstName" in response.json()["requestError"]["serviceException"]["validationErrors"]
    )
    assert not Profile.objects.exists()


def test_profile_fields_and_attributes_through_the_form(owner_client, account):
    note = AttributeDefinition.objects.create(account=account, name="Note", type="text")
    response = owner_client.post(
        reverse("audience:profile_create"),
        {"type": "lead", "first_name": "Ana", "emails": "ana@example.com", f"attr_{note.pk}": "a\x00"},
    )
    assert response.status_code == 400
    assert f"The field attr_{note.pk} contains a NUL character" in response.content.decode()
    assert not Profile.objects.exists()


def test_the_services_refuse_it_for_callers_without_a_request(account):
    """Commands, tasks and imports call the services directly: they check too, naming the field."""
    AttributeDefinition.objects.create(account=account, name="Note", type="text")
    with pytest.raises(ValidationError) as refused:
        services.profile_create(account=account, fields={"city": "Za\x00greb"})
    assert refused.value.message_dict == {"city": [f"city {NUL_REFUSED}."]}
    with pytest.raises(ValidationError) as refused:
        services.profile_create(account=account, fields={"first_name": "Ana"}, attributes={"Note": "\x00"})
    assert "Note" in refused.value.message_dict and "NUL" in refused.value.message_dict["Note"][0]
    ana = services.profile_create(account=account, fields={"first_name": "Ana"})
    with pytest.raises(ValidationError) as refused:
        services.profile_update(profile=ana, fields={"address": "\ud800"})
    assert "address" in refused.value.message_dict
    assert Profile.objects.get().address == ""


def test_tag_names(account, owner_client, api):
    with pytest.raises(ValidationError, match="tag name contains a NUL"):
        tag_services.tag_create(account=account, name="VIP\x00")
    response = owner_client.post(reverse("tags:create"), {"name": "VIP\x00"})
    assert response.status_code == 400 and "The field name contains a NUL" in response.content.decode()
    assert api.post("/people/2/tags", {"name": "VIP\ud800"}).status_code == 400
    assert not Tag.objects.exists()


def test_do_not_contact_values(account, owner_client):
    with pytest.raises(ValidationError) as refused:
        dnc_services.dnc_entry_add(accounts=[account], contact="+385912345678", sender="Shop\x00")
    assert list(refused.value.message_dict) == ["sender"]
    with pytest.raises(ValidationError) as refused:
        dnc_services.dnc_entry_add(accounts=[account], contact="+385912345678", campaign="\x00")
    assert list(refused.value.message_dict) == ["campaign"]
    response = owner_client.post(reverse("dnc:add"), {"contact": "+385912345678", "sender": "a\x00"})
    assert response.status_code == 400 and "The field sender contains a NUL" in response.content.decode()
    assert not DncEntry.objects.exists()


def _rejected(job) -> str:
    return default_storage.open(job.rejected_path).read().decode("utf-8-sig")


def test_an_import_rejects_the_row_naming_its_column_and_goes_on(account, owner):
    AttributeDefinition.objects.create(account=account, name="Note", type="text")
    data = "Email,First name,Note\na@example.com,Ana,ok\nb@example.com,Bo\x00b,ok\nc@example.com,Cid,x\x00\n"
    job = run(job_from(account, owner, "people.csv", data.encode()))
    assert job.status == "done", job.message
    assert (job.created, job.rejected) == (1 + 0, 2) or (job.created, job.rejected) == (1, 2)
    text = _rejected(job)
    assert f"First name (column 2) {NUL_REFUSED}" in text and f"Note (column 3) {NUL_REFUSED}" in text
    assert [row[-2] for row in csv.reader(io.StringIO(text))][1:] == ["3", "4"]  # the rows
    assert sorted(Profile.objects.values_list("first_name", flat=True)) == ["Ana"]


def test_a_nul_in_a_header_or_a_preview_is_shown_not_stored(account, owner):
    job = job_from(account, owner, "people.csv", b"Email,Na\x00me\na@example.com,Ana\n")
    job = ImportJob.objects.get(pk=job.pk)
    assert job.headers == ["Email", "Na\ufffdme"] and "\x00" not in json.dumps(job.preview)


def test_a_do_not_contact_import_rejects_the_row(account, owner):
    data = b"Contact information,Sender\n+385912345678,Shop\n+385912345679,Sh\x00op\n"
    job = run(
        job_from(account, owner, "dnc.csv", data, kind="dnc"), user=owner, options={"accounts": [account.pk]}
    )
    assert job.status == "done", job.message
    assert job.rejected == 1 and f"Sender (column 2) {NUL_REFUSED}" in _rejected(job)
    assert DncEntry.objects.count() == 1
