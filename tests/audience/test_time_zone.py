"""Dates on the screens are shown in the account's time zone (through the real URLs): the
profile's moments and custom date-time attributes, the People list's days, and the default tag
a new import offers and gives."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from audience import services
from audience.models import Account, AttributeDefinition, Profile, Role
from imports import services as import_services
from imports.models import ImportJob
from tags.models import Tag
from tests.conftest import _client_for, _user
from tests.imports.test_views import _upload

pytestmark = pytest.mark.django_db

# 03:30 UTC on 1 March is 22:30 the evening before in New York (EST, UTC-5).
MOMENT = dt.datetime(2026, 3, 1, 3, 30, tzinfo=dt.UTC)


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def new_york(django_user_model) -> tuple[Account, object]:
    account = services.account_create(name="Gotham", time_zone="America/New_York")
    user = _user(django_user_model, "nora")
    services.membership_set(account=account, user=user, role=Role.ADMIN)
    AttributeDefinition.objects.create(account=account, name="Renewal", type="datetime")
    return account, _client_for(user)


def _profile(account: Account) -> Profile:
    # 02:00 UTC on 4 July is 22:00 on 3 July in New York (EDT, UTC-4).
    profile = services.profile_create(
        account=account, fields={"first_name": "Ana"}, attributes={"Renewal": "2026-07-04T02:00"}
    )
    Profile.objects.filter(pk=profile.pk).update(created_at=MOMENT, modified_at=MOMENT)
    return profile


def test_the_profile_shows_its_moments_in_the_accounts_time_zone(new_york):
    account, client = new_york
    profile = _profile(account)
    body = _text(client.get(reverse("audience:profile", args=[profile.pk])))
    assert "Created 28 Feb 2026, 22:30" in body and "Modified 28 Feb 2026, 22:30" in body
    assert "Renewal 3 Jul 2026, 22:00" in body
    assert "1 Mar 2026" not in body and "4 Jul 2026" not in body and " UTC" not in body
    assert timezone.get_current_timezone_name() == "UTC"  # only while the request is answered


def test_the_people_list_shows_the_local_day(new_york):
    account, client = new_york
    _profile(account)
    html = client.get(reverse("audience:people")).content.decode()
    assert 'title="28 Feb 2026, 22:30">28 Feb 2026</td>' in html


def test_an_account_in_utc_sees_utc(new_york, owner_client, account):
    Account.objects.filter(pk=account.pk).update(time_zone="UTC")
    AttributeDefinition.objects.create(account=account, name="Renewal", type="datetime")
    profile = _profile(account)
    body = _text(owner_client.get(reverse("audience:profile", args=[profile.pk])))
    assert "Created 1 Mar 2026, 03:30" in body and "Renewal 4 Jul 2026, 02:00" in body


def test_a_time_zone_the_system_no_longer_knows_falls_back_to_utc(new_york):
    account, client = new_york
    profile = _profile(account)
    Account.objects.filter(pk=account.pk).update(time_zone="Atlantis/Lost")
    response = client.get(reverse("audience:profile", args=[profile.pk]))
    assert response.status_code == 200 and "Created 1 Mar 2026, 03:30" in _text(response)


def test_a_new_imports_default_tag_reads_the_local_moment(new_york):
    account, client = new_york
    _upload(client, b"First name,Email\nAna,ana@example.com\n", "people.csv")
    job = ImportJob.objects.get(account=account)
    ImportJob.objects.filter(pk=job.pk).update(created_at=MOMENT)
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(reverse("imports:map", args=[job.pk]), {"field_0": "first_name", "field_1": "email"})
    detail = reverse("imports:detail", args=[job.pk])
    assert "Tag every imported person with Import 28 Feb 2026 22:30" in _text(client.get(detail))
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(
            reverse("imports:start", args=[job.pk]),
            {"type": "customer", "existing": "keep", "default_tag": "on", "tags": ""},
        )
    job.refresh_from_db()
    assert job.options["default_tag_name"] == "Import 28 Feb 2026 22:30"
    assert job.status == "done"
    assert Tag.objects.get(account=account).name == "Import 28 Feb 2026 22:30"


def test_a_stored_default_tag_is_kept(new_york):
    account, client = new_york
    _upload(client, b"First name,Email\nAna,ana@example.com\n", "people.csv")
    job = ImportJob.objects.get(account=account)
    job.options = {**job.options, "default_tag": True, "default_tag_name": "Import 2026-03-01 03:30"}
    job.save(update_fields=["options"])
    assert import_services.tag_names(job) == ["Import 2026-03-01 03:30"]
