from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from audience.models import Company
from tests.factories import CompanyFactory, ProfileFactory

LIST = "/companies/"


@pytest.fixture
def companies(account):
    acme = CompanyFactory(account=account, name="Acme", industry="Retail")
    beta = CompanyFactory(account=account, name="Beta Bank")
    CompanyFactory(account=account, name="Acorn")
    ProfileFactory.create_batch(3, account=account, company=acme)
    ProfileFactory(account=account, company=beta)
    return acme, beta


def _rows(response) -> list[tuple[str, str]]:
    body = response.content.decode()
    return re.findall(
        r'<a class="fw-medium" href="/companies/\d+/">([^<]+)</a>.*?<td class="num pe-3">([^<]+)</td>',
        body,
        re.S,
    )


def test_it_uses_the_named_urls():
    assert reverse("audience:companies") == LIST
    assert reverse("audience:company_create") == "/companies/new/"
    assert reverse("audience:company", args=[2]) == "/companies/2/"
    assert reverse("audience:company_edit", args=[2]) == "/companies/2/edit/"


@pytest.mark.parametrize("who", ["owner_client", "teammate_client", "viewer_client"])
def test_it_lists_companies_with_their_profile_counts(request, who, companies):
    response = request.getfixturevalue(who).get(LIST)
    assert response.status_code == 200
    assert _rows(response) == [("Acme", "3"), ("Acorn", "0"), ("Beta Bank", "1")]


def test_it_shows_an_outsider_only_their_companies(outsider_client, companies, other_account):
    CompanyFactory(account=other_account, name="Globex Corp")
    assert [name for name, _ in _rows(outsider_client.get(LIST))] == ["Globex Corp"]


def test_it_searches_by_name_prefix(owner_client, companies):
    assert [n for n, _ in _rows(owner_client.get(LIST, {"q": "ac"}))] == ["Acme", "Acorn"]
    response = owner_client.get(LIST, {"q": "zzz"}, headers={"HX-Request": "true"})
    assert response.content.decode().lstrip().startswith('<div id="companies-results">')
    assert "No company name starts with" in response.content.decode()


def test_it_pages_companies(owner_client, account, django_assert_max_num_queries):
    for i in range(55):
        CompanyFactory(account=account, name=f"Company {i:02d}")
    with django_assert_max_num_queries(10):
        first = owner_client.get(LIST)
    assert len(_rows(first)) == 50
    link = unescape(re.search(r'rel="next" href="\?([^"]+)"', first.content.decode()).group(1))
    assert [n for n, _ in _rows(owner_client.get(f"{LIST}?{link}"))] == [
        f"Company {i}" for i in range(50, 55)
    ]


def test_the_company_card_shows_its_people(owner_client, companies):
    acme, _ = companies
    response = owner_client.get(acme.get_absolute_url())
    assert response.status_code == 200
    body = response.content.decode()
    assert "Acme" in body and "Retail" in body
    assert body.count('href="/people/') >= 3


def test_the_company_card_is_404_for_an_outsider(outsider_client, companies):
    assert outsider_client.get(companies[0].get_absolute_url()).status_code == 404


@pytest.mark.parametrize("who", ["owner_client", "teammate_client"])
def test_editors_create_and_edit_companies(request, who, account):
    client = request.getfixturevalue(who)
    assert client.get("/companies/new/").status_code == 200
    response = client.post("/companies/new/", {"name": "Initech", "domain": "initech.example"})
    company = Company.objects.get(account=account, name="Initech")
    assert response.status_code == 302 and response.url == company.get_absolute_url()
    edit = reverse("audience:company_edit", args=[company.pk])
    assert client.post(edit, {"name": "Initech Ltd", "industry": "Software"}).status_code == 302
    company.refresh_from_db()
    assert (company.name, company.industry, company.domain) == ("Initech Ltd", "Software", "")


def test_it_refuses_a_duplicate_name_with_a_message(owner_client, companies):
    response = owner_client.post("/companies/new/", {"name": "acme"})
    assert response.status_code == 400
    assert b"Another company has this name." in response.content
    response = owner_client.post("/companies/new/", {"name": ""})
    assert response.status_code == 400
    assert b"This field is required." in response.content


def test_viewers_and_outsiders_cannot_change_companies(viewer_client, outsider_client, companies):
    acme, _ = companies
    edit = reverse("audience:company_edit", args=[acme.pk])
    assert viewer_client.get("/companies/new/").status_code == 403
    assert viewer_client.post(edit, {"name": "Hacked"}).status_code == 403
    assert outsider_client.post(edit, {"name": "Hacked"}).status_code == 404
    acme.refresh_from_db()
    assert acme.name == "Acme"
    assert b"Add company" not in viewer_client.get(LIST).content
