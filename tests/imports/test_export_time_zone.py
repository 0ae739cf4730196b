"""Every moment an export writes is in the account's time zone: ISO 8601 with its offset in CSV
(the Do Not Contact screen's CSV and export jobs, the people export on both paths), its wall time
in .xlsx (a custom date-time attribute: the CSV's text there too). The account (tests.conftest) is in Europe/Zagreb: +01:00 in December, +02:00 in July."""

from __future__ import annotations

import csv
import datetime as dt
import io
from types import SimpleNamespace

import pytest
from django.core.files.storage import default_storage
from django.test import TestCase
from django.urls import reverse

from audience import services
from audience.models import Account, AttributeDefinition, Profile
from dnc import services as dnc_services
from dnc.models import DncEntryAccount
from imports import exports

pytestmark = pytest.mark.django_db

WINTER = dt.datetime(2026, 12, 3, 15, 26, tzinfo=dt.UTC)  # 16:26 in Zagreb
SUMMER = dt.datetime(2026, 7, 4, 2, 0, tzinfo=dt.UTC)  # 04:00 in Zagreb


def _job(account, owner, kind: str, fmt: str, selection: dict):
    with TestCase.captureOnCommitCallbacks(execute=True):
        job = exports.export_job_create(
            account=account, user=owner, kind=kind, format=fmt, selection=selection
        )
    job.refresh_from_db()
    assert job.status == "done", job.message
    return job


def _csv(job) -> list[dict[str, str]]:
    text = default_storage.open(job.file_path).read().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _dnc(account, owner) -> None:
    dnc_services.dnc_entry_add(accounts=[account], contact="+385912345678", added_by=owner)
    DncEntryAccount.objects.filter(account=account).update(added_at=WINTER)


def test_the_dnc_screens_csv_writes_added_with_the_accounts_offset(account, owner, owner_client):
    _dnc(account, owner)
    response = owner_client.get(reverse("dnc:export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["Added"] for row in rows] == ["2026-12-03T16:26:00+01:00"]


def test_the_dnc_export_job_writes_added_with_the_accounts_offset(account, owner):
    """The job runs in a worker, where no time zone is active: it reads the account's."""
    _dnc(account, owner)
    job = _job(account, owner, "dnc", "csv", {"query": ""})
    assert [row["Added"] for row in _csv(job)] == ["2026-12-03T16:26:00+01:00"]
    Account.objects.filter(pk=account.pk).update(time_zone="America/New_York")
    account.refresh_from_db()
    job = _job(account, owner, "dnc", "csv", {"query": ""})
    assert [row["Added"] for row in _csv(job)] == ["2026-12-03T10:26:00-05:00"]


def test_the_dnc_xlsx_holds_the_wall_time_in_the_accounts_zone(account, owner):
    from openpyxl import load_workbook

    _dnc(account, owner)
    job = _job(account, owner, "dnc", "xlsx", {"query": ""})
    rows = list(load_workbook(io.BytesIO(default_storage.open(job.file_path).read())).active.values)
    assert rows[1][rows[0].index("Added")] == dt.datetime(2026, 12, 3, 16, 26)


def _people(account) -> None:
    AttributeDefinition.objects.create(account=account, name="Renewal", type="datetime")
    AttributeDefinition.objects.create(account=account, name="Note", type="text")
    ana = services.profile_create(
        account=account,
        fields={"first_name": "Ana"},
        emails=["ana@example.com"],
        attributes={"Renewal": "2026-07-04T02:00:00Z", "Note": "2026-07-04T02:00:00Z"},
    )
    Profile.objects.filter(pk=ana.pk).update(created_at=WINTER, modified_at=SUMMER)


@pytest.mark.parametrize("path", ["postgresql", "generic"])
def test_the_people_csv_writes_moments_with_the_accounts_offset(account, owner, monkeypatch, path):
    _people(account)
    if path == "generic":
        monkeypatch.setattr(exports, "connection", SimpleNamespace(vendor="generic"))
    (row,) = _csv(_job(account, owner, "people", "csv", {"ids": None, "filters": {}}))
    assert row["Created"] == "2026-12-03T16:26:00+01:00"
    assert row["Modified"] == "2026-07-04T04:00:00+02:00"
    assert row["Renewal"] == "2026-07-04T04:00:00+02:00"  # a date-time attribute too
    assert row["Note"] == "2026-07-04T02:00:00Z"  # text that looks like one stays as it is


@pytest.mark.parametrize("path", ["postgresql", "generic"])
def test_the_people_xlsx_holds_wall_times_in_the_accounts_zone(account, owner, monkeypatch, path):
    from openpyxl import load_workbook

    _people(account)
    if path == "generic":
        monkeypatch.setattr(exports, "connection", SimpleNamespace(vendor="generic"))
    job = _job(account, owner, "people", "xlsx", {"ids": None, "filters": {}})
    header, row = list(load_workbook(io.BytesIO(default_storage.open(job.file_path).read())).active.values)
    cell = dict(zip(header, row, strict=True))
    assert cell["Created"] == dt.datetime(2026, 12, 3, 16, 26)
    assert cell["Modified"] == dt.datetime(2026, 7, 4, 4, 0)
    # A date-time attribute is the CSV's text, so the file imports back as the same moment.
    assert cell["Renewal"] == "2026-07-04T04:00:00+02:00"
    assert cell["Note"] == "2026-07-04T02:00:00Z"


def test_the_finished_export_says_1_row(account, owner):
    _dnc(account, owner)
    job = _job(account, owner, "dnc", "csv", {"query": ""})
    assert job.message == "1 row exported."
