from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from audience import services
from audience.models import AttributeDefinition, Contact, EventDefinition, Profile


def test_it_creates_an_account_with_the_predefined_app_launch_event(db):
    account = services.account_create(name="Initech", time_zone="America/New_York")
    assert EventDefinition.objects.get(account=account, is_predefined=True).name == "App Launch"


def test_it_refuses_an_unknown_time_zone(db):
    with pytest.raises(ValidationError) as error:
        services.account_create(name="Initech", time_zone="Mars/Olympus")
    assert "time zone" in str(error.value)


def test_it_creates_a_profile_with_normalised_contacts_and_typed_attributes(account):
    AttributeDefinition.objects.create(account=account, name="spend", type="decimal")
    profile = services.profile_create(
        account=account,
        fields={"first_name": "Ana", "external_id": "X1"},
        attributes={"Spend": "19.90"},
        phones=["00385 91 234 5678"],
        emails=["Ana@Example.com"],
    )
    assert profile.attributes == {"spend": 19.9}
    assert set(profile.contacts.values_list("kind", "value")) == {
        ("phone", "+385912345678"),
        ("email", "ana@example.com"),
    }


def test_it_refuses_a_contact_of_another_profile_and_writes_nothing(account):
    services.profile_create(account=account, fields={"first_name": "Ana"}, emails=["ana@example.com"])
    with pytest.raises(ValidationError) as error:
        services.profile_create(account=account, fields={"first_name": "Ane"}, emails=["ANA@example.com"])
    assert "already belongs" in str(error.value)
    assert Profile.objects.count() == 1


def test_the_same_contact_may_exist_in_two_accounts(account, other_account):
    services.profile_create(account=account, fields={}, emails=["ana@example.com"])
    services.profile_create(account=other_account, fields={}, emails=["ana@example.com"])
    assert Contact.objects.filter(value="ana@example.com").count() == 2


def test_it_refuses_an_unknown_custom_attribute_naming_it(account):
    with pytest.raises(ValidationError) as error:
        services.profile_create(account=account, fields={}, attributes={"shoe_size": 42})
    assert "shoe_size" in str(error.value)


def test_it_refuses_a_duplicate_external_id(account):
    services.profile_create(account=account, fields={"external_id": "X1"})
    with pytest.raises(ValidationError) as error:
        services.profile_create(account=account, fields={"external_id": "X1"})
    assert "external id" in str(error.value)


def test_update_replaces_contacts_and_removes_attributes_set_to_none(account):
    AttributeDefinition.objects.create(account=account, name="tier", type="text")
    profile = services.profile_create(
        account=account, fields={}, attributes={"tier": "Gold"}, phones=["+447911123456"]
    )
    services.profile_update(profile=profile, fields={"city": "Split"}, attributes={"tier": None}, phones=[])
    profile.refresh_from_db()
    assert profile.city == "Split"
    assert profile.attributes == {}
    assert not profile.contacts.exists()


def test_attribute_names_are_unique_regardless_of_case(account):
    from django.db import IntegrityError, transaction

    AttributeDefinition.objects.create(account=account, name="Spend", type="decimal")
    with pytest.raises(IntegrityError), transaction.atomic():
        AttributeDefinition.objects.create(account=account, name="spend", type="text")
