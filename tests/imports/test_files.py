"""Every accepted format and every refusal, with the odd files built here."""

from __future__ import annotations

import codecs
import datetime as dt
import io
import zipfile

import pytest

from audience.models import Profile
from imports import files
from tests.imports.conftest import job_from, run

pytestmark = pytest.mark.django_db

TEXT = "First name,Email,City\nŽeljko,zeljko@example.com,Čakovec\nRené,rene@example.com,Zürich\n"


def _store(name: str, data: bytes) -> files.StoredFile:
    return files.upload_store(name=name, stream=io.BytesIO(data), size=len(data), folder="t")


def _names(account) -> set[str]:
    return set(Profile.objects.filter(account=account).values_list("first_name", flat=True))


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (codecs.BOM_UTF8 + TEXT.encode(), "utf-8-sig"),
        (TEXT.encode(), "utf-8"),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16"),
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (TEXT.replace("Ž", "Z").replace("Č", "C").encode("cp1252"), "cp1252"),
    ],
)
def test_it_detects_encodings_and_reads_them(account, owner, data, encoding):
    job = job_from(account, owner, "people.csv", data)
    assert job.encoding == encoding
    assert job.headers == ["First name", "Email", "City"]  # a BOM does not hide the first header
    job = run(job)
    assert job.created == 2
    assert "René" in _names(account)


def test_it_reads_semicolons_and_quoted_newlines(account, owner):
    data = 'Email;Address;City\n"a@example.com";"Main St 1\nFlat 2";"Split"\nb@example.com;"x; y";Pula\n'
    job = job_from(account, owner, "people.txt", data.encode())
    assert job.delimiter == ";"
    job = run(job)
    assert job.created == 2 and job.rows_read == 2
    assert (
        Profile.objects.get(account=account, contacts__value="a@example.com").address == "Main St 1\nFlat 2"
    )


def test_it_lets_the_encoding_and_delimiter_be_overridden(account, owner):
    from imports import services

    job = job_from(account, owner, "p.csv", "Email|City\na@example.com|Zürich\n".encode("cp1252"))
    services.import_job_configure(job=job, encoding="iso-8859-1", delimiter="|", skip_rows=0)
    assert job.headers == ["Email", "City"]
    assert services.import_job_preview(job=job) == [["a@example.com", "Zürich"]]


def test_it_skips_rows_above_the_header(account, owner):
    from imports import services

    job = job_from(account, owner, "p.csv", b"Exported by CRM\n\nEmail,City\na@example.com,Pula\n")
    services.import_job_configure(job=job, encoding="", delimiter="", skip_rows=2)
    assert job.headers == ["Email", "City"] and job.mapping == ["email", "city"]
    assert run(job).created == 1


def _xlsx(rows) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_it_reads_xlsx_with_numbers_dates_and_formulas(account, owner):
    data = _xlsx(
        [
            ["Phone", "Birth date", "First name", "Note"],
            [385912345678, dt.date(1990, 5, 17), "=1+1", "x"],
            ["+385 98 765 4321", dt.datetime(1985, 1, 2, 0, 0), "Ana", '=HYPERLINK("http://evil")'],
        ]
    )
    job = job_from(account, owner, "people.xlsx", data)
    assert job.file_format == "xlsx" and job.mapping[:3] == ["phone", "birth_date", "first_name"]
    job = run(job)
    assert job.created == 2
    first = Profile.objects.get(account=account, contacts__value="+385912345678")
    assert first.birth_date == dt.date(1990, 5, 17)
    assert not first.first_name.startswith("=")  # a formula's cached value (none here), never its text run


def test_it_refuses_an_xls_that_is_really_text():
    with pytest.raises(files.FileRefused, match="not an Excel workbook"):
        _store("old.xls", b"First,Second\n1,2\n")


def test_it_uses_the_first_file_of_a_zip_and_names_the_others(account, owner):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("people.csv", "Email\na@example.com\n")
        archive.writestr("other.csv", "Email\nb@example.com\n")
    job = job_from(account, owner, "people.zip", buffer.getvalue())
    assert (job.zip_member, job.ignored_files) == ("people.csv", ["other.csv"])
    assert run(job).created == 1


def test_it_refuses_a_zip_bomb():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.csv", b"0" * 50_000_000)
    assert len(buffer.getvalue()) < 1_000_000
    with pytest.raises(files.FileRefused, match="zip bomb"):
        _store("bomb.zip", buffer.getvalue())


def test_it_refuses_a_zip_that_lies_about_its_size(settings):
    settings.IMPORT_MAX_UNZIPPED_BYTES = 1000
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("a.csv", b"Email\n" + b"a" * 5000)
    with pytest.raises(files.FileRefused, match="zip bomb"):
        _store("a.zip", buffer.getvalue())


def test_it_refuses_paths_in_zip_names():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../etc/passwd.csv", "Email\na@example.com\n")
    with pytest.raises(files.FileRefused, match="path outside"):
        _store("evil.zip", buffer.getvalue())


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("people.pdf", b"%PDF-1.4", "can't be imported"),
        ("people", b"Email\n", "without an extension"),
        ("people.csv", b"", "is empty"),
        ("people.csv", b"\n\n  \n", "is empty"),
        ("people.xlsx", b"Email\na@example.com\n", "not a .xlsx file"),
        ("people.csv", b"PK\x03\x04rest-of-a-zip", "not a text file"),
        ("people.csv", b"%PDF-1.7 binary", "not a text file"),
        ("people.zip", b"Email\n", "not a .zip file"),
        ("people.csv", bytes(range(1, 32)) * 100, "binary data"),
        ("../people.csv", b"Email\n", None),
    ],
)
def test_it_refuses_what_it_cannot_import(name, data, message):
    if message is None:  # a path is reduced to the file's name, never used as a path
        assert _store(name, data).name == "people.csv"
        return
    with pytest.raises(files.FileRefused, match=message):
        _store(name, data)


def test_it_refuses_files_over_the_limit(settings):
    settings.UPLOAD_MAX_BYTES = 100
    with pytest.raises(files.FileRefused, match="the limit is 100"):
        _store("big.csv", b"Email\n" + b"a@example.com\n" * 20)


def test_it_refuses_a_zip_holding_something_else():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("virus.exe", b"MZ")
    with pytest.raises(files.FileRefused, match="must be .csv"):
        _store("a.zip", buffer.getvalue())


def test_it_fails_the_job_clearly_when_the_encoding_breaks_later(account, owner):
    data = b"Email,City\n" + b"a@example.com,Pula\n" * 5000 + "b@example.com,Zürich\n".encode("cp1252")
    job = run(job_from(account, owner, "p.csv", data))
    assert job.status == "failed" and "not valid utf-8" in job.message.lower()


def test_it_calls_a_valid_but_empty_zip_empty():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w"):
        pass
    with pytest.raises(files.FileRefused, match="is an empty .zip"):
        _store("people.zip", buffer.getvalue())
