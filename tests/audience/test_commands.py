from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from audience.contacts import normalize_phone
from audience.models import Account, AttributeDefinition, Contact, Event, Membership, Profile


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_account_creates_the_user_and_makes_them_admin(db):
    output = run(
        "create_account",
        "Initech",
        "--admin",
        "peter",
        "--password",
        "s3cret-pass",
        "--time-zone",
        "Europe/Zagreb",
    )
    account = Account.objects.get(name="Initech")
    assert account.time_zone == "Europe/Zagreb"
    membership = Membership.objects.get(account=account)
    assert membership.user.username == "peter" and membership.role == "admin"
    assert membership.user.check_password("s3cret-pass")
    assert "Created account 'Initech'" in output


def test_create_account_reuses_an_existing_user(db):
    get_user_model().objects.create_user("peter", password="old-password-1")
    output = run("create_account", "Initech", "--admin", "peter")
    assert "existing user" in output
    assert get_user_model().objects.get(username="peter").check_password("old-password-1")


def test_create_account_refuses_a_duplicate_name_and_a_bad_time_zone(db):
    run("create_account", "Initech", "--admin", "peter")
    with pytest.raises(CommandError, match="already exists"):
        run("create_account", "Initech", "--admin", "paul")
    with pytest.raises(CommandError, match="time zone"):
        run("create_account", "Other", "--admin", "paul", "--time-zone", "Nowhere/Town")


def test_seed_demo_loads_valid_reproducible_data(db):
    output = run("seed_demo", "--profiles", "300", "--events-per-profile", "4", "--seed", "7")
    account = Account.objects.get(name="Demo")
    assert Profile.objects.filter(account=account).count() == 300
    assert "Loaded 300 profiles" in output
    # Every custom attribute type is defined and used.
    types = set(AttributeDefinition.objects.filter(account=account).values_list("type", flat=True))
    assert types == {"text", "integer", "decimal", "boolean", "date", "datetime"}
    # Generated phones are real E.164 numbers, so they survive the same normalisation as input.
    for value in Contact.objects.filter(kind="phone").values_list("value", flat=True)[:200]:
        assert normalize_phone(value) == value
    assert Event.objects.filter(account=account, name="App Launch").exists()
    assert 600 <= Event.objects.filter(account=account).count() <= 2400
    first = list(Profile.objects.order_by("id").values_list("first_name", "last_name", "city")[:50])
    Profile.objects.all().delete()
    run("seed_demo", "--profiles", "300", "--events-per-profile", "4", "--seed", "7")
    again = list(Profile.objects.order_by("id").values_list("first_name", "last_name", "city")[:50])
    assert again == first


def test_seed_demo_if_empty_leaves_existing_data_alone(db):
    run("seed_demo", "--profiles", "20", "--events-per-profile", "1")
    output = run("seed_demo", "--profiles", "20", "--if-empty")
    assert "not loaded" in output
    assert Profile.objects.count() == 20
