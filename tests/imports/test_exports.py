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
