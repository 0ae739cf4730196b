"""factory-boy factories for the People domain."""

from __future__ import annotations

import factory

from audience.models import Account, Company, Contact, Event, Profile


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Account {n}")


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Company {n}")


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Profile

    account = factory.SubFactory(AccountFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    city = "London"
    country = "United Kingdom"


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    profile = factory.SubFactory(ProfileFactory)
    account = factory.SelfAttribute("profile.account")
    kind = "email"
    value = factory.Sequence(lambda n: f"person{n}@example.com")


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    profile = factory.SubFactory(ProfileFactory)
    account = factory.SelfAttribute("profile.account")
    name = "Purchase"
    occurred_at = factory.Faker("date_time_this_month", tzinfo=__import__("datetime").UTC)
