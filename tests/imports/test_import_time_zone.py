"""A date-time without an offset in an import file is a wall time in the account's time zone (across
DST changes), as one typed on the profile form; an offset or Z in the cell is that moment. Through
the real URLs: upload, map, import."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from audience import services
from audience.models import AttributeDefinition, Profile, Role
from imports.models import ImportJob
from tests.conftest import _client_for, _user

pytestmark = pytest.mark.django_db

# Zagreb leaves CET (+01:00) for CEST (+02:00) at 02:00 on 29 March 2026 and goes back at 03:00 on
# 25 October. A wall time the change skips or repeats takes the offset in force before the change.
ZAGREB = [
    ("2026-12-03 16:26", "2026-12-03T15:26:00Z"),
    ("2026-07-04T12:00:00", "2026-07-04T10:00:00Z"),
    ("2026-03-29 02:30", "2026-03-29T01:30:00Z"),  # skipped
    ("2026-10-25 02:30", "2026-10-25T00:30:00Z"),  # repeated: the first
    ("2026-12-03", "2026-12-02T23:00:00Z"),  # a date: its midnight
    ("2026-12-03T16:26:00-05:00", "2026-12-03T21:26:00Z"),  # an offset is kept
    ("2026-12-03T16:26:00Z", "2026-12-03T16:26:00Z"),
]
NEW_YORK = [
    ("2026-03-08 02:30", "2026-03-08T07:30:00Z"),  # skipped
    ("2026-11-01 01:30", "2026-11-01T05:30:00Z"),  # repeated: the first
    ("2026-12-03 16:26", "2026-12-03T21:26:00Z"),
]


def _import(client, account, name: str, data: bytes) -> ImportJob:
    response = client.post(reverse("imports:new"), {"kind": "people", "file": SimpleUploadedFile(name, data)})
    assert response.status_code == 302, response.content.decode()[:2000]
    job = ImportJob.objects.get(account=account)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            reverse("imports:map", args=[job.pk]), {"field_0": "email", "field_1": "custom.Seen"}
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            reverse("imports:start", args=[job.pk]), {"type": "customer", "existing": "keep"}
        )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "done", job.message
    return job


def _seen(account) -> list[str]:
    people = Profile.objects.filter(account=account).order_by("first_name", "id")
    return [p.attributes.get("Seen") for p in people]


@pytest.mark.parametrize(("zone", "cases"), [("Europe/Zagreb", ZAGREB), ("America/New_York", NEW_YORK)])
def test_a_csv_date_time_without_an_offset_is_the_accounts_wall_time(django_user_model, zone, cases):
    account = services.account_create(name=zone, time_zone=zone)
    user = _user(django_user_model, "importer")
    services.membership_set(account=account, user=user, role=Role.ADMIN)
    AttributeDefinition.objects.create(account=account, name="Seen", type="datetime")
    lines = ["Email,Seen"] + [f"p{i}@example.com,{cell}" for i, (cell, _) in enumerate(cases)]
    job = _import(_client_for(user), account, "people.csv", "\n".join(lines).encode())
    assert job.created == len(cases)
    stored = dict(Profile.objects.filter(account=account).values_list("contacts__value", "attributes"))
    assert [stored[f"p{i}@example.com"]["Seen"] for i in range(len(cases))] == [moment for _, moment in cases]


def test_an_xlsx_date_time_cell_is_the_accounts_wall_time(owner_client, account):
    # Excel has no time zones: a date-time cell is a wall time, as the exports write it.
    from openpyxl import Workbook

    AttributeDefinition.objects.create(account=account, name="Seen", type="datetime")
    workbook = Workbook()
    sheet = workbook.active
    for row in (["Email", "Seen"], ["ana@example.com", dt.datetime(2026, 7, 4, 12, 0)]):
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    _import(owner_client, account, "people.xlsx", out.getvalue())
    assert _seen(account) == ["2026-07-04T10:00:00Z"]  # 12:00 in Zagreb (CEST)
