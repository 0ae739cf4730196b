from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from django.test import TestCase

from audience.models import AttributeDefinition, Notification
from imports import exports
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
        ("+385912345678", "+385912345678"),
        ("+385 91 123-4567", "+385 91 123-4567"),
        ("+1 (555) 010/2030", "+1 (555) 010/2030"),
        ("+1 2|cmd", "'+1 2|cmd"),
        ("-1 SUM(A1)", "'-1 SUM(A1)"),
        ("-12.5", "-12.5"),
        ("Ana", "Ana"),
        (42, 42),
    ],
)
def test_it_neutralises_formulas(value, safe):
    assert exports.cell_safe(value) == safe


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
    assert any("'=1+1" in row for row in rows[1:])


def test_it_exports_only_the_selection(account, owner):
    _people(account, owner)
    from audience.models import Profile

    chosen = Profile.objects.get(account=account, contacts__value="b@example.com")
    job = _export(account, owner, "csv", {"ids": [chosen.pk], "filters": {}})
    text = default_storage.open(job.file_path).read().decode("utf-8-sig")
    assert job.processed == 1 and "b@example.com" in text and "a@example.com" not in text


def test_it_exports_do_not_contact_entries(account, owner):
    run(
        job_from(account, owner, "d.csv", b"Contact\n+385912345678\n=evil@example.com\n", kind="dnc"),
        user=owner,
        options={"accounts": [account.pk]},
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        job = exports.export_job_create(
            account=account, user=owner, kind="dnc", format="csv", selection={"query": ""}
        )
    job.refresh_from_db()
    text = default_storage.open(job.file_path).read().decode("utf-8-sig")
    assert job.status == "done" and text.startswith("Contact,Kind,Channel") and "+385912345678" in text


def test_it_refuses_a_segment_of_another_account(account, owner):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        exports.export_job_create(account=account, user=owner, kind="people", format="csv", segment_id=999999)


def _rows(job) -> list[list[str]]:
    import csv

    text = default_storage.open(job.file_path).read().decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.parametrize("dense", [True, False])
def test_it_writes_the_same_people_csv_on_every_path(account, owner, monkeypatch, dense):
    """On PostgreSQL the CSV comes from COPY with the neutralisation in SQL (contacts and tags
    joined per id range when dense, probed per profile when sparse); it must read the same as the
    generic writer's (run here with the vendor check pointed elsewhere)."""
    from types import SimpleNamespace

    joins = exports._people_copy_joins
    monkeypatch.setattr(exports, "_people_copy_joins", lambda low, high, _: joins(low, high, dense))

    for name, type_ in (("Score", "decimal"), ("Opted", "boolean"), ("Note", "text")):
        AttributeDefinition.objects.create(account=account, name=name, type=type_)
    data = (
        b"First name,Last name,Email,Phone,Company,Birth date,Score,Opted,Note,City\n"
        b"=1+1,-5,a@example.com,+385912345678,@Acme,1990-02-03,12.5,true,+cmd,\n"
        b"Ivo,,b@example.com,,,,-3,false,-12.5,Split\n"
        b'Mia,"O\'Hara, ""Q""",c@example.com,+385987654321,Acme,,,,+1 (555) 010-2030,\n'
    )
    run(job_from(account, owner, "p.csv", data), options={"tags": ["VIP", "=bad", "alpha"]})
    fast = _rows(_export(account, owner, "csv"))
    monkeypatch.setattr(exports, "connection", SimpleNamespace(vendor="generic"))
    generic = _rows(_export(account, owner, "csv"))
    assert fast == generic
    assert len(fast) == 4 and fast[1][3] == "'=1+1" and fast[1][5] == "-5"
    assert "'=bad" in fast[1][17] and fast[1][12] == "'@Acme"
    assert "+1 (555) 010-2030" in fast[3] and "'+cmd" in fast[1]  # phone-shaped text is left as written


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
