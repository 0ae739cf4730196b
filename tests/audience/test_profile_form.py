from __future__ import annotations

import pytest
from django.urls import reverse

from audience import services
from audience.models import AttributeDefinition, Contact, Profile
from tests.factories import CompanyFactory

CREATE = "/people/new/"


@pytest.fixture
def definitions(account):
    AttributeDefinition.objects.create(account=account, name="Score", type="integer")
    AttributeDefinition.objects.create(account=account, name="Renewal", type="date")
    return {d.name: d for d in AttributeDefinition.objects.filter(account=account)}


def _data(definitions, **overrides):
    data = {
        "type": "lead",
        "first_name": "Ana",
        "last_name": "Horvat",
        "phones": "+385 91 123 4567\n+44 7911 123456",
        "emails": "ana@example.com\nANA.H@work.example",
        f"attr_{definitions['Score'].pk}": "42",
        f"attr_{definitions['Renewal'].pk}": "2026-06-01",
    }
    data.update(overrides)
    return data


def test_it_uses_the_named_urls():
    assert reverse("audience:profile_create") == CREATE
    assert reverse("audience:profile_edit", args=[3]) == "/people/3/edit/"
    assert reverse("audience:profile_delete", args=[3]) == "/people/3/delete/"


@pytest.mark.parametrize("who", ["owner_client", "teammate_client"])
def test_it_creates_a_profile_with_several_contacts_and_typed_attributes(request, who, account, definitions):
    client = request.getfixturevalue(who)
    assert client.get(CREATE).status_code == 200
    response = client.post(CREATE, _data(definitions))
    profile = Profile.objects.get(account=account)
    assert response.status_code == 302 and response.url == profile.get_absolute_url()
    assert profile.attributes == {"Score": 42, "Renewal": "2026-06-01"}
    assert sorted(profile.contacts.values_list("value", flat=True)) == [
        "+385911234567",
        "+447911123456",
        "ana.h@work.example",
        "ana@example.com",
    ]


def test_viewers_may_not_create(viewer_client, definitions):
    assert viewer_client.get(CREATE).status_code == 403
    assert viewer_client.post(CREATE, _data(definitions)).status_code == 403
    assert Profile.objects.count() == 0


def test_an_outsider_creates_in_their_own_account_only(outsider_client, other_account, account, definitions):
    # The outsider's account has no "Score" definition: their form has no such field.
    response = outsider_client.post(CREATE, {"type": "lead", "external_id": "X1"})
    assert response.status_code == 302
    assert Profile.objects.get().account == other_account


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"phones": "091 123 4567"}, "not in international format"),
        ({"phones": "+1 23"}, "not a"),
        ({"emails": "not-an-email"}, "not a valid email address"),
        ({"attr_score": "forty"}, "is not a whole number"),
        ({"attr_renewal": "someday"}, "is not a date"),
        (
            {"phones": "", "emails": "", "external_id": ""},
            "at least one of a phone, an email or an external ID",
        ),
        ({"gender": "other"}, "Select a valid choice"),
    ],
)
def test_it_shows_validation_messages(owner_client, definitions, overrides, message):
    overrides = {
        (
            f"attr_{definitions['Score'].pk}"
            if k == "attr_score"
            else f"attr_{definitions['Renewal'].pk}"
            if k == "attr_renewal"
            else k
        ): v
        for k, v in overrides.items()
    }
    response = owner_client.post(CREATE, _data(definitions, **overrides))
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert Profile.objects.count() == 0


def test_it_refuses_a_contact_of_another_profile(owner_client, account, definitions):
    services.profile_create(account=account, fields={"first_name": "First"}, emails=["ana@example.com"])
    response = owner_client.post(CREATE, _data(definitions))
    assert response.status_code == 400
    assert b"ana@example.com already belongs to another profile" in response.content
    assert Profile.objects.count() == 1


def test_it_refuses_a_duplicate_external_id(owner_client, account, definitions):
    services.profile_create(account=account, fields={"external_id": "C1"})
    response = owner_client.post(CREATE, _data(definitions, external_id="C1"))
    assert response.status_code == 400
    assert b"Another profile has this external id" in response.content


@pytest.fixture
def profile(account, definitions):
    return services.profile_create(
        account=account,
        fields={"first_name": "Ana", "last_name": "Horvat"},
        attributes={"Score": 1},
        phones=["+385911234567"],
    )


@pytest.mark.parametrize("who", ["owner_client", "teammate_client"])
def test_it_edits_a_profile(request, who, account, profile, definitions):
    client = request.getfixturevalue(who)
    url = reverse("audience:profile_edit", args=[profile.pk])
    form = client.get(url).content.decode()
    assert "+385911234567" in form and 'value="1"' in form
    company = CompanyFactory(account=account)
    response = client.post(
        url,
        _data(
            definitions,
            first_name="Anna",
            phones="",
            emails="anna@example.com",
            company=company.pk,
            **{f"attr_{definitions['Score'].pk}": ""},
        ),
    )
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.first_name == "Anna"
    assert profile.company == company
    assert profile.attributes == {"Renewal": "2026-06-01"}
    assert list(profile.contacts.values_list("value", flat=True)) == ["anna@example.com"]


def test_it_keeps_the_profile_unchanged_when_the_edit_is_invalid(owner_client, profile, definitions):
    url = reverse("audience:profile_edit", args=[profile.pk])
    response = owner_client.post(url, _data(definitions, first_name="Changed", phones="0911234567"))
    assert response.status_code == 400
    profile.refresh_from_db()
    assert profile.first_name == "Ana"


def test_it_does_not_offer_another_accounts_company(owner_client, other_account, profile, definitions):
    foreign = CompanyFactory(account=other_account, name="Foreign Ltd")
    url = reverse("audience:profile_edit", args=[profile.pk])
    assert b"Foreign Ltd" not in owner_client.get(url).content
    response = owner_client.post(url, _data(definitions, company=foreign.pk))
    assert response.status_code == 400
    profile.refresh_from_db()
    assert profile.company is None


def test_viewers_and_outsiders_may_not_edit(viewer_client, outsider_client, profile, definitions):
    url = reverse("audience:profile_edit", args=[profile.pk])
    assert viewer_client.post(url, _data(definitions, first_name="X")).status_code == 403
    assert outsider_client.get(url).status_code == 404
    assert outsider_client.post(url, _data(definitions, first_name="X")).status_code == 404
    profile.refresh_from_db()
    assert profile.first_name == "Ana"


def test_it_deletes_a_profile_after_confirmation(owner_client, profile):
    card = owner_client.get(profile.get_absolute_url()).content.decode()
    assert 'data-confirm="Delete Ana Horvat?' in card
    response = owner_client.post(reverse("audience:profile_delete", args=[profile.pk]))
    assert response.status_code == 302 and response.url == reverse("audience:people")
    assert not Profile.objects.filter(pk=profile.pk).exists()
    assert not Contact.objects.exists()


def test_delete_is_refused_to_viewers_outsiders_and_gets(
    viewer_client, outsider_client, teammate_client, profile
):
    url = reverse("audience:profile_delete", args=[profile.pk])
    assert viewer_client.post(url).status_code == 403
    assert outsider_client.post(url).status_code == 404
    assert teammate_client.get(url).status_code == 405
    assert Profile.objects.filter(pk=profile.pk).exists()
    assert teammate_client.post(url).status_code == 302
