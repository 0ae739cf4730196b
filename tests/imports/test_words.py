"""The import screens' words: an empty .zip, a file with only a header, plurals that agree and
dates in the one format people read (through the real URLs)."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import pytest
from django.test import TestCase
from django.urls import reverse

from audience.templatetags.dates import ago, day, when
from imports.models import ImportJob
from tests.imports.test_views import _upload

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_an_empty_zip_is_called_empty(owner_client):
    buffer = io.BytesIO()
    zipfile.ZipFile(buffer, "w").close()
    body = _text(_upload(owner_client, buffer.getvalue(), "empty.zip"))
    assert "empty.zip is an empty .zip" in body and "not a .zip" not in body


def test_a_header_only_file_says_it_has_no_rows(owner_client, account):
    response = _upload(owner_client, b"First name,Email,Phone\n", "head.csv")
    job = ImportJob.objects.get(account=account)
    assert response.status_code == 302
    assert "head.csv has no rows: it holds only a header row" in _text(
        owner_client.get(reverse("imports:map", args=[job.pk]))
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        owner_client.post(
            reverse("imports:map", args=[job.pk]),
            {"field_0": "first_name", "field_1": "email", "field_2": "phone"},
        )
    body = _text(owner_client.get(reverse("imports:detail", args=[job.pk])))
    assert "head.csv has no rows: it holds only a header row" in body
    assert "Import 0 valid rows" not in body


def test_one_row_is_one_row_and_dates_read_the_same(owner_client, account):
    _upload(owner_client, b"First name,Email\nAna,ana@example.com\n", "one.csv")
    job = ImportJob.objects.get(account=account)
    with TestCase.captureOnCommitCallbacks(execute=True):
        owner_client.post(
            reverse("imports:map", args=[job.pk]), {"field_0": "first_name", "field_1": "email"}
        )
    body = _text(owner_client.get(reverse("imports:detail", args=[job.pk])))
    assert "Import 1 valid row " in body
    moment = when(job.created_at, account.tz)  # shown in the account's time zone
    assert f", {moment}" in body and not re.search(r"import by \S+, \d{4}-", body)
    assert moment in _text(owner_client.get(reverse("imports:list")))


def test_the_date_filters():
    moment = dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.UTC)
    assert (day(moment), when(moment), day(moment.date())) == (
        "1 Mar 2026",
        "1 Mar 2026, 10:30",
        "1 Mar 2026",
    )
    assert ago(moment, moment + dt.timedelta(seconds=20)) == "just now"
    assert ago(moment, moment + dt.timedelta(minutes=1)) == "1 minute ago"
    assert ago(moment, moment + dt.timedelta(hours=5)) == "5 hours ago"
    assert ago(moment, moment + dt.timedelta(days=30)) == "1 Mar 2026"
