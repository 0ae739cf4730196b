from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from audience import usage
from audience.models import Company
from tags import selectors, services
from tests.factories import ProfileFactory


def test_it_counts_persons_and_companies_per_tag_in_one_query_each(account, other_account, monkeypatch):
    monkeypatch.setitem(usage._checkers, usage.TAG, [])  # "Currently used" asks each checker per tag
    people = ProfileFactory.create_batch(5, account=account)
    tags = [services.tag_create(account=account, name=f"T{i}") for i in range(6)]
    for i, tag in enumerate(tags):
        services.tags_add(account=account, tags=[tag], profile_ids=[p.pk for p in people[:i]])
    company = Company.objects.create(account=account, name="Acme")
    services.company_tag_add(company=company, name="T2")
    services.tag_create(account=other_account, name="T1")
    with CaptureQueriesContext(connection) as queries:
        rows = selectors.tag_stats(account=account, tag_ids=[t.pk for t in tags])
    assert [(r.tag.name, r.persons, r.companies) for r in rows] == [
        ("T0", 0, 0),
        ("T1", 1, 0),
        ("T2", 2, 1),
        ("T3", 3, 0),
        ("T4", 4, 0),
        ("T5", 5, 0),
    ]
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum("tags_profiletag" in q for q in sql) == 1  # one grouped query for all the rows
    assert sum("tags_companytag" in q for q in sql) == 1
    assert sum("SELECT" in q for q in sql) == 3  # and the tags themselves


def test_it_searches_and_sorts(account):
    for name in ["Alpha", "beta", "Gamma"]:
        services.tag_create(account=account, name=name)
    page = selectors.tags_page(account=account, q="A", sort="-name")
    assert [t.name for t in page.object_list] == ["Gamma", "beta", "Alpha"]
    page = selectors.tags_page(account=account, q="amm")
    assert [t.name for t in page.object_list] == ["Gamma"]


def test_it_gives_tag_names_per_profile_in_one_query(account):
    a, b, c = ProfileFactory.create_batch(3, account=account)
    services.profile_tag_add(profile=a, name="zeta")
    services.profile_tag_add(profile=a, name="Alpha")
    services.profile_tag_add(profile=b, name="alpha")
    with CaptureQueriesContext(connection) as queries:
        names = selectors.tag_names_for_profiles([a.pk, b.pk, c.pk])
    assert len(queries) == 1
    assert names == {a.pk: ["Alpha", "zeta"], b.pk: ["Alpha"]}


def test_it_gives_no_stats_for_another_accounts_tags(account, other_account):
    theirs = services.tag_create(account=other_account, name="Theirs")
    assert selectors.tag_stats(account=account, tag_ids=[theirs.pk]) == []
