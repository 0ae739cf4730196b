from __future__ import annotations

import io

import psycopg
import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test import TestCase

from audience.models import AttributeDefinition, Notification
from imports import exports
from imports.exports import postgres
from imports.models import ExportJob
from tests.imports.conftest import job_from, run

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        # A phone as text would be turned into a number or a formula error: neutralised too,
        # and the importer takes the apostrophe off again (test_it_takes_off_the_exports_apostrophe).
        ("+385912345678", "'+385912345678"),
        ("+385 91 123-4567", "'+385 91 123-4567"),
        ("+1 2|cmd", "'+1 2|cmd"),
        ("-1 SUM(A1)", "'-1 SUM(A1)"),
        ("-12.5", "'-12.5"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        # Apostrophes before a formula character get one more, so the import's undo is exact.
        ("'=1", "''=1"),
        ("''+1", "'''+1"),
        ("'abc", "'abc"),
        ("Ana", "Ana"),
        (42, 42),
        (-12.5, -12.5),
    ],
)
def test_it_neutralises_formulas(value, safe):
    assert exports.cell_safe(value) == safe


@pytest.mark.parametrize("value", ["=1+1", "'=1", "''@x", "+385 91", "'abc", "abc", "-", "'", ""])
def test_it_takes_off_the_exports_apostrophe(value):
    from audience.spreadsheets import cell_unquote

    assert cell_unquote(exports.cell_safe(value)) == value


def _people(account, owner):
    AttributeDefinition.objects.create(account=account, name="Plan", type="text")
    data = b"First name,Email,Phone,Plan\n=1+1,a@example.com,+385912345678,gold\nIvo,b@example.com,,\n"
    run(job_from(account, owner, "p.csv", data), options={"tags": ["VIP"]})


def _export(account, owner, fmt: str, selection=None) -> ExportJob:
    with TestCase.captureOnCommitCallbacks(execute=True):
        job = exports.export_job_create(
            account=account,
            user=owner,
            kind="people",
            format=fmt,
            selection=selection or {"ids": None, "filters": {}},
        )
    job.refresh_from_db()
    return job


def test_it_exports_people_to_csv(account, owner, other_account):
    _people(account, owner)
    job = _export(account, owner, "csv")
    assert (job.status, job.total, job.processed) == ("done", 2, 2)
    text = default_storage.open(job.file_path).read().decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith("Id,External id,Type,First name") and lines[0].endswith(
        "Phones,Emails,Tags,Plan"
    )
    assert "'=1+1" in text and "+385912345678" in text and "VIP" in text and "gold" in text
    assert Notification.objects.filter(user=owner, message__contains="export is ready").exists()


def test_it_exports_people_to_xlsx(account, owner):
    from openpyxl import load_workbook

    _people(account, owner)
    job = _export(account, owner, "xlsx")
    sheet = load_workbook(io.BytesIO(default_storage.open(job.file_path).read())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 3
    # An inline string is never a formula: no literal apostrophe, the quotePrefix style instead.
    assert any("=1+1" in row for row in rows[1:])
    assert not any(str(value).startswith("'") for row in rows for value in row if value)
    cell = next(c for row in sheet.iter_rows() for c in row if c.value == "=1+1")
    assert cell.quotePrefix and cell.data_type == "s"


def test_it_exports_only_the_selection(account, owner):
    _people(account, owner)
    from audience.models import Profile

    chosen = Profile.objects.get(account=account, contacts__value="b@example.com")
    job = _export(account, owner, "csv", {"ids": [chosen.pk], "filters": {}})
    text = default_storage.open(job.file_path).read().decode("utf-8-sig")
    assert job.processed == 1 and "b@example.com" in text and "a@example.com" not in text


def _dnc_export(account, owner, fmt: str) -> ExportJob:
    run(
        job_from(account, owner, "d.csv", b"Contact\n+385912345678\n=evil@example.com\n", kind="dnc"),
        user=owner,
        options={"accounts": [account.pk]},
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        job = exports.export_job_create(
            account=account, user=owner, kind="dnc", format=fmt, selection={"query": ""}
        )
    job.refresh_from_db()
    return job


def test_it_exports_do_not_contact_entries(account, owner):
    job = _dnc_export(account, owner, "csv")
    text = default_storage.open(job.file_path).read().decode("utf-8-sig")
    assert job.status == "done" and text.startswith("Contact information,Type,Sender,Channel")
    assert "'+385912345678" in text


def test_it_refuses_a_segment_of_another_account(account, owner):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        exports.export_job_create(account=account, user=owner, kind="people", format="csv", segment_id=999999)


def _rows(job) -> list[list[str]]:
    import csv

    text = default_storage.open(job.file_path).read().decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def _awkward_people(account, owner):
    """Profiles with every kind of cell: formulas, XML's special and illegal characters, dates,
    numbers, booleans, JSON lists, a company, tags and contacts."""
    from audience.models import Profile

    for name, type_ in (("Score", "decimal"), ("Opted", "boolean"), ("Note", "text"), ("Count", "integer")):
        AttributeDefinition.objects.create(account=account, name=name, type=type_)
    data = (
        b"First name,Last name,Email,Phone,Company,Birth date,Score,Opted,Note,City\n"
        b"=1+1,-5,a@example.com,+385912345678,@Acme & <Co>,1990-02-03,12.5,true,+cmd,\n"
        b"Ivo,,b@example.com,,,1900-01-15,-3,false,-12.5,Split\n"
        b'Mia,"O\'Hara, ""Q""",c@example.com,+385987654321,Acme,,,,+1 (555) 010-2030,\n'
    )
    run(job_from(account, owner, "p.csv", data), options={"tags": ["VIP", "=bad", "alpha"]})
    Profile.objects.filter(account=account, first_name="Ivo").update(
        address="a\x01\x0b\ufffeb & <c> \\d\ne\tf\rg \u00e9\u4e2d",
        city="  spaced  ",
        attributes={"Count": 3, "Note": None, "Score": [1, "x"]},
    )


@pytest.mark.parametrize("dense", [True, False])
def test_it_writes_the_same_people_csv_on_every_path(account, owner, monkeypatch, dense):
    """On PostgreSQL the CSV comes from COPY with the neutralisation in SQL (contacts and tags
    joined per id range when dense, probed per profile when sparse); it must read the same as the
    generic writer's (run here with the vendor check pointed elsewhere)."""
    from types import SimpleNamespace

    joins = postgres._people_copy_joins
    monkeypatch.setattr(postgres, "_people_copy_joins", lambda low, high, _: joins(low, high, dense))

    _awkward_people(account, owner)
    fast = _rows(_export(account, owner, "csv"))
    monkeypatch.setattr(exports, "connection", SimpleNamespace(vendor="generic"))
    generic = _rows(_export(account, owner, "csv"))
    assert fast == generic
    assert len(fast) == 4 and fast[1][3] == "'=1+1" and fast[1][5] == "'-5"
    assert "'=bad" in fast[1][17] and fast[1][12] == "'@Acme & <Co>"
    assert "'+1 (555) 010-2030" in fast[3] and "'+cmd" in fast[1]  # phone-shaped text too


def test_it_exports_a_segment(account, owner):
    from segments.models import Segment

    _people(account, owner)
    rule = {
        "version": 1,
        "attributes": {
            "match": "all",
            "conditions": [{"attribute": "first_name", "operator": "is", "value": "Ivo"}],
        },
    }
    segment = Segment.objects.create(account=account, name="Ivos", rule=rule)
    with TestCase.captureOnCommitCallbacks(execute=True):
        job = exports.export_job_create(
            account=account, user=owner, kind="people", format="csv", segment_id=segment.pk
        )
    job.refresh_from_db()
    text = default_storage.open(job.file_path).read().decode("utf-8-sig")
    assert (job.status, job.processed) == ("done", 1)
    assert "b@example.com" in text and "a@example.com" not in text


def test_it_refuses_another_accounts_segment(account, other_account, owner):
    from django.core.exceptions import ValidationError

    from segments.models import Segment

    segment = Segment.objects.create(account=other_account, name="Theirs", rule={})
    with pytest.raises(ValidationError, match="no such segment"):
        exports.export_job_create(
            account=account, user=owner, kind="people", format="csv", segment_id=segment.pk
        )


def _xlsx_sheets(job) -> dict[str, dict[str, list[list]]]:
    """Every sheet of the job's .xlsx as read by openpyxl and by calamine: {reader: {sheet: rows}},
    rows as wide as the header, blank cells as None, dates as datetimes (as openpyxl reads them)."""
    import datetime as dt

    from openpyxl import load_workbook
    from python_calamine import CalamineWorkbook

    data = default_storage.open(job.file_path).read()
    book = load_workbook(io.BytesIO(data), read_only=True)
    calamine = CalamineWorkbook.from_filelike(io.BytesIO(data))

    def padded(rows: list[list]) -> list[list]:  # a row ends at its last value in openpyxl
        width = len(rows[0])
        return [row + [None] * (width - len(row)) for row in rows]

    def plain(value):
        if value == "":
            return None
        if type(value) is dt.date:
            return dt.datetime.combine(value, dt.time())
        return value

    by_openpyxl = {s.title: padded([list(r) for r in s.iter_rows(values_only=True)]) for s in book.worksheets}
    by_calamine = {
        name: padded([[plain(v) for v in row] for row in calamine.get_sheet_by_name(name).to_python()])
        for name in calamine.sheet_names
    }
    return {"openpyxl": by_openpyxl, "calamine": by_calamine}


def test_it_writes_the_same_people_xlsx_on_every_path(account, owner, monkeypatch):
    """On PostgreSQL the sheet XML is built by COPY, in SQL; the workbook must read the same (in
    openpyxl and calamine) as the one the Python writer makes from the same rows."""
    from types import SimpleNamespace

    _awkward_people(account, owner)
    fast = _xlsx_sheets(_export(account, owner, "xlsx"))
    monkeypatch.setattr(exports, "connection", SimpleNamespace(vendor="generic"))
    generic = _xlsx_sheets(_export(account, owner, "xlsx"))
    assert fast == generic
    rows = fast["openpyxl"]["Export"]
    assert fast["calamine"]["Export"] == rows
    header = rows[0]
    first, ivo = rows[1], next(r for r in rows if r[3] == "Ivo")
    cell = dict(zip(header, first, strict=True))
    assert cell["First name"] == "=1+1" and cell["Last name"] == "-5" and cell["Company"] == "@Acme & <Co>"
    assert cell["Birth date"].date().isoformat() == "1990-02-03" and cell["Created"].year >= 2024
    assert (cell["Score"], cell["Opted"], cell["Note"]) == (12.5, True, "+cmd")
    assert "=bad" in cell["Tags"] and cell["Phones"] == "+385912345678" and isinstance(cell["Id"], int)
    cell = dict(zip(header, ivo, strict=True))
    assert cell["Address"] == "ab & <c> \\d\ne\tf\rg \u00e9\u4e2d"  # the control character dropped
    assert cell["City"] == "  spaced  " and cell["Count"] == 3 and cell["Note"] is None
    assert cell["Birth date"].date().isoformat() == "1900-01-15"  # before Excel's phantom 29 February


def test_it_writes_the_csvs_values_to_xlsx(account, owner):
    """Column for column, the .xlsx holds what the CSV export writes, typed: numbers as numbers,
    booleans as booleans, dates as dates."""
    import datetime as dt

    from imports import xlsx

    _awkward_people(account, owner)
    csv_rows = _rows(_export(account, owner, "csv"))
    xlsx_rows = _xlsx_sheets(_export(account, owner, "xlsx"))["calamine"]["Export"]
    assert xlsx_rows[0] == csv_rows[0]
    from audience.spreadsheets import cell_unquote

    for csv_row, xlsx_row in zip(csv_rows[1:], xlsx_rows[1:], strict=True):
        for text, value in zip(csv_row, xlsx_row, strict=True):
            if isinstance(value, bool):
                assert text == str(value)
            elif isinstance(value, int | float):
                assert float(text) == value
            elif isinstance(value, dt.datetime):
                assert dt.datetime.fromisoformat(text).replace(tzinfo=None) - value < dt.timedelta(
                    milliseconds=1
                )
            elif value is None:
                assert text == ""
            else:  # less the CSV's apostrophe (the .xlsx styles it) and the characters XML can't hold
                assert cell_unquote(text).translate(dict.fromkeys(map(ord, xlsx.ILLEGAL))) == value


def test_it_continues_on_a_new_sheet_past_excels_last_row(account, owner, monkeypatch):
    """Past 1,048,576 rows (three here) the rows go on in "Export (2)", … under the same header,
    on both paths, across keyset batches (two rows here)."""
    from types import SimpleNamespace

    from audience.models import Profile
    from imports import xlsx

    Profile.objects.bulk_create([Profile(account=account, first_name=f"P{i}") for i in range(7)])
    monkeypatch.setattr(xlsx, "MAX_ROWS", 3)
    monkeypatch.setattr(exports, "BATCH", 3)
    fast = _xlsx_sheets(_export(account, owner, "xlsx"))
    monkeypatch.setattr(exports, "connection", SimpleNamespace(vendor="generic"))
    job = _export(account, owner, "xlsx")
    assert (job.status, job.processed, job.total) == ("done", 7, 7)
    generic = _xlsx_sheets(job)
    assert fast == generic
    for sheets in fast.values():
        assert list(sheets) == ["Export", "Export (2)", "Export (3)", "Export (4)"]
        assert all(rows[0][:4] == ["Id", "External id", "Type", "First name"] for rows in sheets.values())
        names = [row[3] for rows in sheets.values() for row in rows[1:]]
        assert names == [f"P{i}" for i in range(7)]


def test_it_writes_an_empty_xlsx_with_its_header(account, owner):
    sheets = _xlsx_sheets(_export(account, owner, "xlsx"))
    assert [rows[0][:2] for rows in sheets["openpyxl"].values()] == [["Id", "External id"]]
    assert sheets["calamine"]["Export"][0][:2] == ["Id", "External id"]


def test_it_exports_do_not_contact_entries_to_xlsx(account, owner):
    job = _dnc_export(account, owner, "xlsx")
    rows = _xlsx_sheets(job)["calamine"]["Export"]
    assert rows[0][:4] == ["Contact information", "Type", "Sender", "Channel"] and len(rows) == 3
    assert {row[0] for row in rows[1:]} == {"+385912345678", "=evil@example.com"}
    assert all(row[6].year >= 2024 for row in rows[1:])  # Added: a real date


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_it_reads_the_people_csv_over_several_connections_in_order(
    account, owner, monkeypatch, settings, tmp_path
):
    """Outside a transaction the ranges are read on EXPORT_COPY_STREAMS connections at once and
    joined in order: the file is the one a single connection writes, progress reaches the total,
    and an error in any range fails the export instead of leaving a file with a hole."""
    _awkward_people(account, owner)
    monkeypatch.setattr(postgres, "COPY_RANGE", 1)  # one range per profile: 3 ranges, 2 streams
    settings.EXPORT_COPY_STREAMS = 1
    single = _export(account, owner, "csv")
    settings.EXPORT_COPY_STREAMS = 2
    parallel = _export(account, owner, "csv")
    assert _rows(parallel) == _rows(single) and len(_rows(parallel)) == 4
    assert parallel.processed == parallel.total == 3

    joins = postgres._people_copy_joins
    monkeypatch.setattr(
        postgres, "_people_copy_joins", lambda low, high, dense: joins(low, high, dense) + " BROKEN"
    )
    job = ExportJob.objects.create(
        account=account, created_by=owner, kind="people", format="csv", selection={"ids": None, "filters": {}}
    )
    with pytest.raises(psycopg.errors.SyntaxError, match="BROKEN"):
        postgres.people_csv_copy(job, str(tmp_path / "out.csv"))
