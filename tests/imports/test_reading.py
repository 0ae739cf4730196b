"""How a file is read, through the screens: files without a header row, cells csv can't read,
an encoding that breaks after the first 64 KB, the preview kept on the job, uploads over the
limit — for the owner, a teammate and an outsider."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse

from dnc.models import DncEntryAccount
from imports.models import ImportJob

pytestmark = pytest.mark.django_db


def _upload(client, data: bytes, name: str, kind: str = "people"):
    return client.post(reverse("imports:new"), {"kind": kind, "file": SimpleUploadedFile(name, data)})


def _map(client, job: ImportJob, fields: list[str] | None = None):
    fields = job.mapping if fields is None else fields
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            reverse("imports:map", args=[job.pk]), {f"field_{i}": key for i, key in enumerate(fields)}
        )


def _start(client, job: ImportJob, options: dict):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(reverse("imports:start", args=[job.pk]), options)


# Files without a header row -------------------------------------------------------------------


def test_it_keeps_the_first_number_of_a_txt_without_header(owner_client, account):
    response = _upload(owner_client, b"+385912345678\n+385912345679\n+385912345680\n", "numbers.txt", "dnc")
    assert response.status_code == 302
    job = ImportJob.objects.get(account=account)
    assert (job.has_header, job.headers, job.mapping) == (False, ["Column 1"], ["contact"])
    page = owner_client.get(reverse("imports:map", args=[job.pk]))
    assert b"+385912345678" in page.content and b"the file has no header row" in page.content
    assert _map(owner_client, job).status_code == 302
    _start(owner_client, job, {"accounts": [str(account.pk)]})
    job.refresh_from_db()
    assert (job.status, job.rows_read, job.created) == ("done", 3, 3)
    assert DncEntryAccount.objects.filter(account=account, value="+385912345678").exists()


def test_it_reads_a_declared_header_again_for_htmx(teammate_client, account):
    """Detected wrong (a header that looks like a number)? The person says so on the mapping step."""
    _upload(teammate_client, b"385912345678\n+385912345679\n", "odd.txt", "dnc")
    job = ImportJob.objects.get(account=account)
    assert not job.has_header
    response = teammate_client.post(
        reverse("imports:reading", args=[job.pk]),
        {"encoding": "utf-8", "delimiter": ",", "skip_rows": "0", "has_header": "header"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and b"<html" not in response.content
    job.refresh_from_db()
    assert job.has_header and job.headers == ["385912345678"]
    assert b"+385912345679" in response.content and b"after the header" in response.content
    response = teammate_client.post(
        reverse("imports:reading", args=[job.pk]),
        {"encoding": "utf-8", "delimiter": ",", "skip_rows": "0", "has_header": "data"},
        headers={"HX-Request": "true"},
    )
    job.refresh_from_db()
    assert (job.has_header, job.mapping, len(job.preview)) == (False, ["contact"], 2)


def test_it_suggests_infobips_contact_information_header(owner_client, account):
    _upload(owner_client, b"Contact information\n+385912345678\n", "infobip.csv", "dnc")
    job = ImportJob.objects.get(account=account)
    assert (job.has_header, job.mapping) == (True, ["contact"])


def test_it_detects_people_without_a_header(owner_client, account):
    _upload(owner_client, b"Ana,ana@example.com,+385912345678\nIvo,ivo@example.com,\n", "p.csv")
    job = ImportJob.objects.get(account=account)
    assert (job.has_header, job.mapping) == (False, ["", "email", "phone"])


# Cells csv can't read -------------------------------------------------------------------------

LONG = "x" * 140_000


def test_it_refuses_a_cell_over_csvs_limit_at_upload_with_a_message(owner_client, account):
    data = f"Email,Note\na@example.com,{LONG}\n".encode()
    response = _upload(owner_client, data, "long.csv")
    assert response.status_code == 400
    assert b"Row 2 has a cell longer than 131,072 characters" in response.content
    assert not ImportJob.objects.exists()


def test_it_answers_the_mapping_page_and_reading_form_of_a_long_cell(owner_client, account):
    """A stray quote swallows the rest of the file into one cell once read with ';': the reading
    form says so (no 500), the mapping page still answers, and the job can be read again."""
    rows = "".join(f"n{i}@example.com,{'y' * 20}\n" for i in range(8000)).encode()
    data = b'Email,Note\na@example.com,x\nb@example.com,"open\n' + rows
    response = _upload(owner_client, data, "quote.csv")
    assert response.status_code == 400 and b"Row 3 has a cell longer than 131,072" in response.content
    _upload(owner_client, data.replace(b'"open', b"open"), "fine.csv")
    job = ImportJob.objects.get(account=account)
    default_storage.delete(job.file_path)
    with default_storage.open(job.file_path, "wb") as handle:  # the stored file, with the quote
        handle.write(data)
    response = owner_client.post(
        reverse("imports:reading", args=[job.pk]),
        {"encoding": "utf-8", "delimiter": ",", "skip_rows": "0", "has_header": "header"},
        headers={"HX-Request": "true"},
    )
    # htmx swaps no 4xx: the reading form answers its errors with 200 (audience.htmx.invalid_status).
    assert response.status_code == 200 and b"longer than 131,072" in response.content
    assert owner_client.get(reverse("imports:map", args=[job.pk])).status_code == 200


def test_it_fails_an_analysis_of_a_long_cell_with_a_message(owner_client, account):
    rows = "".join(f"n{i}@example.com,ok\n" for i in range(50))
    data = f"Email,Note\n{rows}late@example.com,{LONG}\n".encode()
    _upload(owner_client, data, "late.csv")
    job = ImportJob.objects.get(account=account)
    assert owner_client.get(reverse("imports:map", args=[job.pk])).status_code == 200
    assert _map(owner_client, job, ["email", ""]).status_code == 302
    job.refresh_from_db()
    assert job.status == "failed" and "Row 52 has a cell longer than 131,072 characters" in job.message
    page = owner_client.get(reverse("imports:detail", args=[job.pk]))
    assert b"Row 52 has a cell longer" in page.content and b"Back to the mapping step" in page.content


# An encoding that breaks after the first 64 KB --------------------------------------------------


def _late_latin1() -> bytes:
    rows = "".join(f"n{i}@example.com,Zagreb\n" for i in range(4000)).encode()
    assert len(rows) > 64 * 1024
    return b"Email,City\n" + rows + "late@example.com,Čakovec\n".encode("cp1250")


def test_it_lets_the_person_choose_the_encoding_after_a_failed_analysis(
    owner_client, teammate_client, outsider_client, viewer_client, account
):
    _upload(owner_client, _late_latin1(), "late.csv")
    job = ImportJob.objects.get(account=account)
    assert job.encoding == "utf-8"
    _map(owner_client, job)
    job.refresh_from_db()
    assert job.status == "failed" and "go back to the mapping step and choose its encoding" in job.message
    detail = owner_client.get(reverse("imports:detail", args=[job.pk]))
    assert reverse("imports:map", args=[job.pk]).encode() in detail.content
    assert outsider_client.get(reverse("imports:map", args=[job.pk])).status_code == 404
    assert viewer_client.get(reverse("imports:map", args=[job.pk])).status_code == 403
    page = teammate_client.get(reverse("imports:map", args=[job.pk]))
    assert page.status_code == 200 and b"The analysis failed" in page.content
    response = teammate_client.post(
        reverse("imports:reading", args=[job.pk]),
        {"encoding": "cp1250", "delimiter": ",", "skip_rows": "0", "has_header": "header"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    job.refresh_from_db()
    assert (job.stage, job.status, job.encoding) == ("map", "pending", "cp1250")
    assert _map(teammate_client, job).status_code == 302
    job.refresh_from_db()
    assert job.is_analyzed and job.analysis["rows"] == 4001 and job.analysis["rejected"] == 0
    _start(teammate_client, job, {"type": "lead", "existing": "keep"})
    job.refresh_from_db()
    assert (job.status, job.created) == ("done", 4001)


def test_it_sends_a_failed_analysis_back_to_mapping_only(owner_client, account):
    _upload(owner_client, b"Email\na@example.com\n", "ok.csv")
    job = ImportJob.objects.get(account=account)
    _map(owner_client, job)
    job.refresh_from_db()
    assert job.is_analyzed
    response = owner_client.get(reverse("imports:map", args=[job.pk]))
    assert response.status_code == 302  # an analyzed file is not mapped again
    response = owner_client.post(
        reverse("imports:reading", args=[job.pk]),
        {"encoding": "cp1252", "delimiter": ",", "skip_rows": "0"},
    )
    assert response.status_code == 400 and b"analyzed already" in response.content


# The preview kept on the job -------------------------------------------------------------------


def _xlsx(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_it_shows_the_mapping_page_without_reading_the_file_again(owner_client, account):
    data = _xlsx([["Email", "City"], ["ana@example.com", "Pula"], ["ivo@example.com", "Split"]])
    _upload(owner_client, data, "people.xlsx")
    job = ImportJob.objects.get(account=account)
    assert job.preview[:2] == [["Email", "City"], ["ana@example.com", "Pula"]]
    default_storage.delete(job.file_path)  # a view that read the workbook would fail now
    for _ in range(2):
        page = owner_client.get(reverse("imports:map", args=[job.pk]))
        assert page.status_code == 200 and b"ivo@example.com" in page.content


# Uploads over the limit ------------------------------------------------------------------------


class _CountingInput(io.BytesIO):
    """wsgi.input that counts what the server read of the body."""

    def read(self, size=-1):
        data = super().read(size)
        self.taken = getattr(self, "taken", 0) + len(data)
        return data

    def readline(self, size=-1):
        data = super().readline(size)
        self.taken = getattr(self, "taken", 0) + len(data)
        return data


def test_it_refuses_an_upload_over_the_limit_before_reading_it(owner_client, account, settings):
    settings.UPLOAD_MAX_BYTES = 100_000
    big = b"Email\n" + b"a@example.com\n" * 100_000  # 1.4 MB
    body = encode_multipart(BOUNDARY, {"kind": "people", "file": SimpleUploadedFile("big.csv", big)})
    stream = _CountingInput(body)
    response = owner_client.generic(
        "POST", reverse("imports:new"), body, content_type=MULTIPART_CONTENT, **{"wsgi.input": stream}
    )
    assert response.status_code == 413
    assert (
        b"the limit is 97.7\xc2\xa0KB" in response.content and b"Compress it into a .zip" in response.content
    )
    assert stream.taken < 200_000  # the body's start (the form's fields), not the 1.4 MB
    assert not ImportJob.objects.exists()


def test_it_still_takes_an_upload_under_the_limit(teammate_client, account, settings):
    settings.UPLOAD_MAX_BYTES = 100_000
    response = _upload(teammate_client, b"Email\n" + b"a@example.com\n" * 5000, "ok.csv")
    assert response.status_code == 302 and ImportJob.objects.filter(account=account).count() == 1


def test_it_stops_a_file_over_the_limit_inside_the_forms_slack(owner_client, account, settings):
    """A body within the limit plus the form's slack, whose file passes the limit: stopped as
    its bytes come."""
    settings.UPLOAD_MAX_BYTES = 100_000
    response = _upload(owner_client, b"Email\n" + b"a@example.com\n" * 9000, "edge.csv")  # 126 KB
    assert response.status_code == 413 and b"larger than the limit of 97.7" in response.content
    assert not ImportJob.objects.exists()
