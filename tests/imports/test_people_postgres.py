"""The people target's PostgreSQL fast paths (`imports.targets.people.postgres`) give what its
generic paths give: the same rows, written into two accounts, read back the same."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from audience.models import AttributeDefinition, AttributeType, Contact, Profile
from imports.targets.people import PeopleTarget

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the fast paths are PostgreSQL's")

MAPPING = [
    "external_id",
    "first_name",
    "middle_name",
    "last_name",
    "gender",
    "birth_date",
    "city",
    "address",
    "preferred_language",
    "company",
    "phone",
    "email",
    "custom.Note",
    "custom.Count",
    "custom.Member",
    "custom.Seen",
]
ROWS = [
    [
        "A1",
        "Ann",
        "",
        "O'Hara",
        "f",
        "1980-02-29",
        "Zagreb",
        "Ilica 1\\2",
        "hr",
        "Acme",
        "+385912345678",
        "",
        "x",
        "3",
        "yes",
        "2024-01-02T03:04:05Z",
    ],
    [
        "",
        'Tab\there "quoted"',
        "Mid",
        "Back\\slash",
        "",
        "",
        "",
        "",
        "",
        "acme",
        "",
        "ann@example.com; b@example.com",
        '{"a": 1}',
        "",
        "no",
        "",
    ],
    [
        "A3",
        "Ünïcødé 名前",
        "",
        "",
        "male",
        "1900-03-01",
        "=1+1",
        "",
        "",
        "",
        "+385912345679",
        "",
        "",
        "-7",
        "",
        "",
    ],
    ["A4", "", "", "", "", "", "", "", "", "Beta & <Co>", "", "z@example.com", "", "", "", ""],
]


def _target(account) -> PeopleTarget:
    for name, type_ in (
        ("Note", AttributeType.TEXT),
        ("Count", AttributeType.INTEGER),
        ("Member", AttributeType.BOOLEAN),
        ("Seen", AttributeType.DATETIME),
    ):
        AttributeDefinition.objects.get_or_create(account=account, name=name, defaults={"type": type_})
    return PeopleTarget(account=account, mapping=MAPPING, options={"type": "customer", "existing": "rewrite"})


def _records(target: PeopleTarget):
    records = [target.parse(n, cells) for n, cells in enumerate(ROWS, start=2)]
    target._companies_resolve({r.company for r in records if r.company})
    return records


def _stored(account) -> tuple[list, list]:
    fields = [f.name for f in Profile._meta.concrete_fields if f.name not in ("id", "account", "company")]
    profiles = sorted(
        (tuple(row[k] for k in [*fields, "company__name"]))
        for row in Profile.objects.filter(account=account).values(*fields, "company__name")
    )
    contacts = sorted(
        Contact.objects.filter(account=account).values_list(
            "kind", "value", "profile__first_name", "created_at"
        )
    )
    return profiles, contacts


def _create_both(account, other_account, now):
    generic, fast = _target(account), _target(other_account)
    generic._create_generic(_records(generic), now)
    fast._create_copy(_records(fast), now)
    return generic, fast


def test_copy_creates_what_bulk_create_creates(account, other_account):
    now = timezone.now()
    _create_both(account, other_account, now)
    assert _stored(account) == _stored(other_account)
    profiles, contacts = _stored(account)
    assert len(profiles) == 4 and len(contacts) == 5


def test_the_owner_look_ups_agree(account, other_account):
    generic, fast = _create_both(account, other_account, timezone.now())
    for target in (generic, fast):
        values = ["+385912345678", "+385912345679", "+385000000000"]
        assert target._pg_contact_owners("phone", values) == target._generic_contact_owners("phone", values)
        emails = ["ann@example.com", "z@example.com", "nobody@example.com"]
        assert target._pg_contact_owners("email", emails) == target._generic_contact_owners("email", emails)
        ids = ["A1", "A3", "A4", "missing"]
        assert target._pg_external_owners(ids) == target._generic_external_owners(ids)
        assert len(target._pg_external_owners(ids)) == 3


def test_copy_update_writes_what_bulk_update_writes(account, other_account):
    now = timezone.now()
    _create_both(account, other_account, now)
    later = now + dt.timedelta(minutes=1)
    fields = ["attributes", "birth_date", "company_id", "first_name", "gender", "type"]
    for target, account_ in ((_target(account), account), (_target(other_account), other_account)):
        rows = []
        for n, profile in enumerate(
            Profile.objects.filter(account=account_).order_by("external_id", "first_name")
        ):
            rows.append(
                {
                    "pk": profile.pk,
                    "attributes": {**profile.attributes, "Note": f'it\'s \\ "{n}"\t', "Count": n * 1.5},
                    "birth_date": dt.date(1999, 12, 31) if n % 2 else None,
                    "company_id": None if n == 0 else profile.company_id,
                    "first_name": f"{profile.first_name}\r\n'{n}",
                    "gender": "female" if n % 2 else "",
                    "type": "customer",
                }
            )
        update = target._update_generic if account_ == account else target._update_copy
        update(rows, fields, later)
    assert _stored(account) == _stored(other_account)
    assert Profile.objects.filter(account=account, modified_at=later).count() == 4
