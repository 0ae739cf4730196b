"""The screens through their real URLs, for the owner, a teammate, a viewer and an outsider."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from audience.models import Notification, Profile
from imports.models import ExportJob, ImportJob
from tags.models import Tag
from tests.imports.conftest import job_from, run

pytestmark = pytest.mark.django_db

CSV = b"First name,Email,Phone\nAna,ana@example.com,+385912345678\nIvo,not-an-email,\n"


def _upload(client, data=CSV, name="people.csv", kind="people"):
    return client.post(reverse("imports:new"), {"kind": kind, "file": SimpleUploadedFile(name, data)})


def test_it_runs_upload_map_analyze_import_through_the_urls(owner_client, account, owner):
    response = _upload(owner_client)
    job = ImportJob.objects.get(account=account)
    assert response.status_code == 302 and response["Location"] == reverse("imports:map", args=[job.pk])
    page = owner_client.get(reverse("imports:map", args=[job.pk]))
    assert page.status_code == 200 and b"ana@example.com" in page.content
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = owner_client.post(
            reverse("imports:map", args=[job.pk]),
            {"field_0": "first_name", "field_1": "email", "field_2": "phone"},
        )
    assert response.status_code == 302
    page = owner_client.get(reverse("imports:detail", args=[job.pk]))
    assert b"Download the rejected rows" in page.content and b"Import 1 valid row<" in page.content
    rejected = owner_client.get(reverse("imports:rejected", args=[job.pk]))
    assert b"not-an-email" in b"".join(rejected.streaming_content)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = owner_client.post(
            reverse("imports:start", args=[job.pk]),
            {"type": "customer", "existing": "keep", "default_tag": "on", "tags": "Fair 2026, VIP"},
        )
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.created, job.rejected, job.rows_read) == ("done", 1, 1, 2)
    assert Profile.objects.get(account=account).type == "customer"
    assert Tag.objects.filter(account=account).count() == 3
    assert Notification.objects.filter(user=owner, message__contains="complete").exists()
    history = owner_client.get(reverse("imports:list"))
    assert b"people.csv" in history.content and b"Imported" in history.content


def test_it_shows_only_the_progress_fragment_to_htmx(owner_client, account, owner):
    job = job_from(account, owner, "p.csv", CSV)
    response = owner_client.get(reverse("imports:detail", args=[job.pk]), headers={"HX-Request": "true"})
    assert (
        response.status_code == 200 and b"<html" not in response.content and b'id="job"' in response.content
    )


def test_it_shows_a_refusal_next_to_the_file_field(owner_client, account):
    response = _upload(owner_client, data=b"%PDF-1.4", name="people.csv")
    assert response.status_code == 400 and b"not a text file" in response.content
    assert not ImportJob.objects.exists()


def test_it_shows_mapping_errors_inline(owner_client, account, owner):
    job = job_from(account, owner, "p.csv", CSV)
    response = owner_client.post(reverse("imports:map", args=[job.pk]), {"field_0": "first_name"})
    assert response.status_code == 400 and b"Map at least one column" in response.content


def test_it_rereads_the_file_with_another_delimiter_for_htmx(owner_client, account, owner):
    job = job_from(account, owner, "p.csv", b"Email;City\na@example.com;Pula\n")
    response = owner_client.post(
        reverse("imports:reading", args=[job.pk]),
        {"encoding": "utf-8", "delimiter": ",", "skip_rows": "0"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and b"<html" not in response.content
    job.refresh_from_db()
    assert job.headers == ["Email;City"]


def test_it_answers_a_refused_reading_with_200_for_htmx_and_400_for_a_page(owner_client, account, owner):
    job = job_from(account, owner, "p.csv", b"Email;City\na@example.com;Pula\n")
    url = reverse("imports:reading", args=[job.pk])
    data = {"encoding": "utf-8", "delimiter": ";", "skip_rows": "20000"}
    # htmx 2 swaps no 4xx answer: the error must come back as 200 to be shown at all.
    response = owner_client.post(url, data, headers={"HX-Request": "true"})
    assert response.status_code == 200 and b"<html" not in response.content
    assert b"is-invalid" in response.content and b"10000" in response.content
    assert owner_client.post(url, data).status_code == 400
    job.refresh_from_db()
    assert job.skip_rows == 0


def test_it_cancels_a_queued_import(owner_client, account, owner):
    job = job_from(account, owner, "p.csv", CSV)
    ImportJob.objects.filter(pk=job.pk).update(stage="import", status="pending")
    response = owner_client.post(reverse("imports:cancel", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "cancelled"


def test_it_lets_teammates_import(teammate_client, account):
    assert teammate_client.get(reverse("imports:new")).status_code == 200
    assert _upload(teammate_client).status_code == 302


def test_it_lets_viewers_read_but_not_import(viewer_client, account, owner):
    job = run(job_from(account, owner, "p.csv", CSV))
    assert viewer_client.get(reverse("imports:list")).status_code == 200
    assert viewer_client.get(reverse("imports:detail", args=[job.pk])).status_code == 200
    assert viewer_client.get(reverse("imports:new")).status_code == 403
    assert _upload(viewer_client).status_code == 403
    assert viewer_client.get(reverse("imports:map", args=[job.pk])).status_code == 403
    assert viewer_client.post(reverse("imports:start", args=[job.pk])).status_code == 403
    assert viewer_client.post(reverse("imports:cancel", args=[job.pk])).status_code == 403
    # Exports only read: a viewer may take out what they can see (docs/permissions.md).
    assert viewer_client.post(reverse("imports:export_people"), {"all": "1"}).status_code == 302


def test_it_hides_other_accounts_jobs(outsider_client, account, owner):
    job = run(job_from(account, owner, "secret.csv", CSV))
    export = ExportJob.objects.create(account=account, kind="people", file_path="x.csv")
    for name in (
        "imports:detail",
        "imports:map",
        "imports:rejected",
        "imports:export_detail",
        "imports:export_download",
    ):
        pk = export.pk if name.startswith("imports:export") else job.pk
        assert outsider_client.get(reverse(name, args=[pk])).status_code in (404, 405), name
    for name in ("imports:start", "imports:cancel", "imports:reading"):
        assert outsider_client.post(reverse(name, args=[job.pk])).status_code == 404, name
    assert b"secret.csv" not in outsider_client.get(reverse("imports:list")).content
    job.refresh_from_db()
    assert job.status == "done"


def test_it_shows_an_empty_history(owner_client, account):
    response = owner_client.get(reverse("imports:list"))
    assert response.status_code == 200 and b"No imports yet" in response.content
    assert b"No exports yet" in owner_client.get(reverse("imports:exports")).content


def test_it_exports_a_people_selection_through_the_url(owner_client, account, owner):
    run(job_from(account, owner, "p.csv", CSV))
    ids = list(Profile.objects.filter(account=account).values_list("pk", flat=True))
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = owner_client.post(reverse("imports:export_people"), {"ids": ids, "format": "csv"})
    job = ExportJob.objects.get(account=account)
    assert response.status_code == 302 and response["Location"] == reverse(
        "imports:export_detail", args=[job.pk]
    )
    page = owner_client.get(reverse("imports:export_detail", args=[job.pk]))
    assert b"Download" in page.content
    body = b"".join(owner_client.get(reverse("imports:export_download", args=[job.pk])).streaming_content)
    assert b"ana@example.com" in body
