from __future__ import annotations

import datetime as dt
import json
import re
from html import unescape

import pytest
from django.core.cache import cache
from django.urls import reverse

from audience import filters, selection
from audience.models import Profile, ProfileType
from tests.factories import ContactFactory, ProfileFactory

URL = "/people/"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


def _names(response) -> list[str]:
    body = response.content.decode()
    return re.findall(r'<a class="fw-medium" href="/people/\d+/">([^<]+)</a>', body)


@pytest.fixture
def people(account):
    at = dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC)
    rows = [
        ProfileFactory(
            account=account,
            first_name="Ana",
            last_name="Horvat",
            city="Zagreb",
            country="Croatia",
            gender="female",
            type=ProfileType.CUSTOMER,
            address="Ilica 1",
            created_at=at,
        ),
        ProfileFactory(
            account=account,
            first_name="Boris",
            last_name="Babic",
            city="Split",
            country="Croatia",
            gender="male",
            address="Riva 5",
            created_at=at + dt.timedelta(days=1),
        ),
        ProfileFactory(
            account=account,
            first_name="Clara",
            last_name="Zeller",
            city="Berlin",
            country="Germany",
            gender="female",
            address="Unter den Linden 3",
            created_at=at + dt.timedelta(days=2),
        ),
    ]
    ContactFactory(profile=rows[0], kind="email", value="ana@example.com")
    ContactFactory(profile=rows[1], kind="phone", value="+385911234567")
    return rows


def test_it_uses_the_people_url_name():
    assert reverse("audience:people") == URL
    assert reverse("audience:people_count") == "/people/count/"


@pytest.mark.parametrize("who", ["owner_client", "teammate_client", "viewer_client"])
def test_it_lists_the_accounts_people_for_every_member(request, who, people):
    response = request.getfixturevalue(who).get(URL)
    assert response.status_code == 200
    assert _names(response) == ["Clara Zeller", "Boris Babic", "Ana Horvat"]
    assert b"ana@example.com" in response.content


def test_it_shows_an_outsider_only_their_own_account(outsider_client, people, other_account):
    ProfileFactory(account=other_account, first_name="Eve", last_name="Other")
    response = outsider_client.get(URL)
    assert _names(response) == ["Eve Other"]
    assert b"Horvat" not in response.content


def test_it_hides_the_add_button_from_viewers(viewer_client, owner_client, people):
    assert b"Add person" not in viewer_client.get(URL).content
    assert b"Add person" in owner_client.get(URL).content


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("gender=female", ["Clara Zeller", "Ana Horvat"]),
        ("gender=male", ["Boris Babic"]),
        ("type=customer", ["Ana Horvat"]),
        ("type=lead", ["Clara Zeller", "Boris Babic"]),
        ("country=croatia", ["Boris Babic", "Ana Horvat"]),
        ("city=Zagreb", ["Ana Horvat"]),
        ("address=riva", ["Boris Babic"]),
        ("created_after=2026-01-11", ["Clara Zeller", "Boris Babic"]),
        ("created_before=2026-01-11", ["Boris Babic", "Ana Horvat"]),
        ("created_after=2026-01-11&created_before=2026-01-11", ["Boris Babic"]),
        ("q=hor", ["Ana Horvat"]),
        ("q=ana%20horvat", ["Ana Horvat"]),
        ("q=ANA@example.com", ["Ana Horvat"]),
        ("q=%2B385%2091%20123%204567", ["Boris Babic"]),
        ("q=nobody", []),
    ],
)
def test_it_applies_each_quick_filter_and_the_search(owner_client, people, query, expected):
    response = owner_client.get(f"{URL}?{query}")
    assert response.status_code == 200
    assert _names(response) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Boris Babic", "Ana Horvat", "Clara Zeller"]),
        ("-name", ["Clara Zeller", "Ana Horvat", "Boris Babic"]),
        ("city", ["Clara Zeller", "Boris Babic", "Ana Horvat"]),
        ("-city", ["Ana Horvat", "Boris Babic", "Clara Zeller"]),
        ("country", ["Ana Horvat", "Boris Babic", "Clara Zeller"]),
        ("-country", ["Clara Zeller", "Boris Babic", "Ana Horvat"]),
        ("type", ["Ana Horvat", "Boris Babic", "Clara Zeller"]),
        ("created", ["Ana Horvat", "Boris Babic", "Clara Zeller"]),
        ("-created", ["Clara Zeller", "Boris Babic", "Ana Horvat"]),
        ("bogus", ["Clara Zeller", "Boris Babic", "Ana Horvat"]),
    ],
)
def test_it_sorts_by_each_visible_column(owner_client, people, sort, expected):
    assert _names(owner_client.get(f"{URL}?sort={sort}")) == expected


def _link(response, rel: str) -> str | None:
    match = re.search(rf'rel="{rel}" href="\?([^"]+)"', response.content.decode())
    return unescape(match.group(1)) if match else None


@pytest.mark.parametrize("sort", ["-created", "name", "-city", "country", "type"])
def test_it_pages_forward_and_back_without_offset(owner_client, account, sort, django_assert_max_num_queries):
    for i in range(120):
        ProfileFactory(
            account=account,
            first_name=f"P{i:03d}",
            last_name=f"L{i % 7}",
            city=f"C{i % 5}",
            country=f"K{i % 3}",
            type="customer" if i % 2 else "lead",
        )
    expected = [
        p.display_name
        for p in Profile.objects.filter(account=account).order_by(
            *(
                ("-" if sort.startswith("-") else "") + c
                for c in {
                    "created": ["created_at", "id"],
                    "name": ["last_name", "first_name", "id"],
                    "city": ["city", "id"],
                    "country": ["country", "id"],
                    "type": ["type", "id"],
                }[sort.lstrip("-")]
            )
        )
    ]
    seen, pages, query = [], [], f"sort={sort}"
    while query:
        response = owner_client.get(f"{URL}?{query}")
        pages.append(_names(response))
        seen += pages[-1]
        query = _link(response, "next")
        assert "OFFSET" not in str(query)
    assert seen == expected
    assert [len(p) for p in pages] == [50, 50, 20]
    # Back from the last page gives the middle page again.
    response = owner_client.get(
        f"{URL}?{_link(owner_client.get(f'{URL}?{_last_query(owner_client, sort)}'), 'prev')}"
    )
    assert _names(response) == pages[1]
    assert _link(response, "prev") is not None


def _last_query(client, sort):
    query = f"sort={sort}"
    while True:
        following = _link(client.get(f"{URL}?{query}"), "next")
        if not following:
            return query
        query = following


def test_it_reads_a_page_in_a_fixed_number_of_queries(owner_client, account, django_assert_max_num_queries):
    for _ in range(60):
        profile = ProfileFactory(account=account)
        ContactFactory(profile=profile)
    with django_assert_max_num_queries(12):
        response = owner_client.get(URL)
    assert len(_names(response)) == 50


def test_it_ignores_a_broken_cursor(owner_client, people):
    response = owner_client.get(f"{URL}?after=not-a-cursor")
    assert response.status_code == 200
    assert len(_names(response)) == 3


def test_it_renders_only_the_results_for_htmx(owner_client, people):
    response = owner_client.get(f"{URL}?city=Split", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="people-results">')
    assert "<html" not in body
    assert _names(response) == ["Boris Babic"]
    assert 'hx-get="/people/count/?city=Split"' in body
    assert "HX-Request" in response["Vary"]


def test_it_shows_the_filter_error_for_an_invalid_value(owner_client, people):
    response = owner_client.get(f"{URL}?created_after=yesterday")
    assert response.status_code == 200
    assert b"The filter can't be applied" in response.content
    assert b"Enter a valid date" in response.content


def test_it_shows_a_message_for_an_invalid_rule_instead_of_failing(owner_client, people):
    response = owner_client.get(f"{URL}?rule=%7Bnot-json")
    assert response.status_code == 200
    assert b"not valid JSON" in response.content


def test_it_applies_a_registered_rule_compiler(owner_client, people, monkeypatch):
    monkeypatch.setattr(selection, "_rule_compiler", [])

    def compiler(account, rule):
        return Profile.objects.filter(account=account, city=rule["city"])

    selection.register_rule_compiler(compiler)
    rule = json.dumps({"city": "Berlin"})
    response = owner_client.get(URL, {"rule": rule})
    assert _names(response) == ["Clara Zeller"]
    assert 'name="rule"' in response.content.decode()


def test_it_renders_and_applies_a_registered_quick_filter(owner_client, people, monkeypatch):
    from django import forms

    monkeypatch.setattr(filters, "_quick_filters", {})
    filters.register_quick_filter(
        filters.QuickFilter(
            name="initial",
            fields=lambda account: {"initial": forms.CharField(required=False, label="Initial")},
            apply=lambda qs, data: (
                qs.filter(first_name__startswith=data["initial"]) if data.get("initial") else qs
            ),
        )
    )
    page = owner_client.get(URL).content.decode()
    assert 'name="initial"' in page and ">Initial<" in page
    assert _names(owner_client.get(f"{URL}?initial=B")) == ["Boris Babic"]


def test_it_offers_the_advanced_filter_slot_only_when_segments_serves_it(owner_client, people):
    from django.urls import NoReverseMatch

    body = owner_client.get(URL).content.decode()
    try:
        adv = reverse("segments:people_advanced_filter")
    except NoReverseMatch:
        assert "advanced-filter" not in body
    else:
        assert f'hx-get="{adv}?' in body


def test_it_posts_the_selection_fields_bulk_actions_read(owner_client, people):
    body = owner_client.get(f"{URL}?country=Croatia").content.decode()
    form = body[body.index('<form id="bulk-form"') :]
    assert 'method="post"' in form[:60]
    assert 'name="csrfmiddlewaretoken"' in form
    assert 'name="query" value="country=Croatia"' in form
    assert body.count('name="ids"') == 2
    assert 'form="bulk-form"' in body
    for name, label in [("imports:export_people", "Export"), ("dnc:bulk_add", "Add to Do Not Contact")]:
        try:
            url = reverse(name)
        except Exception:
            continue
        assert f'formaction="{url}"' in body and label in body


def test_it_hides_change_actions_from_viewers(viewer_client, people):
    body = viewer_client.get(URL).content.decode()
    assert "Add to Do Not Contact" not in body
    assert "Manage tags" not in body


def test_a_posted_selection_resolves_to_the_same_profiles(rf, account, people):
    from django.http import QueryDict

    post = QueryDict(mutable=True)
    post.update({"all": "1", "query": "country=Croatia&sort=name&after=abc"})
    chosen = selection.Selection.from_post(post)
    profiles = selection.selection_queryset(account=account, selection=chosen)
    assert set(profiles) == {people[0], people[1]}


@pytest.mark.parametrize("sort", ["name", "-name", "city", "-created"])
def test_it_pages_search_results_in_every_sort(owner_client, account, sort):
    for i in range(60):
        ProfileFactory(account=account, first_name=f"Smith{i:02d}", last_name=f"Smi{i % 4}", city=f"C{i % 3}")
    ProfileFactory.create_batch(5, account=account, first_name="Other", last_name="Person")
    first = owner_client.get(URL, {"q": "smi", "sort": sort})
    second = owner_client.get(f"{URL}?{_link(first, 'next')}")
    names = _names(first) + _names(second)
    assert len(names) == 60 and len(set(names)) == 60
    assert _link(second, "next") is None
    back = owner_client.get(f"{URL}?{_link(second, 'prev')}")
    assert _names(back) == _names(first)


def test_it_shows_each_profiles_tags_in_a_column(owner_client, account):
    from audience import services
    from tags import services as tag_services

    profile = services.profile_create(account=account, fields={"first_name": "Tagged"})
    tag = tag_services.tag_create(account=account, name="VIP buyers")
    tag_services.tags_add(account=account, tags=[tag], profile_ids=[profile.pk])
    response = owner_client.get("/people/")
    assert b'<th scope="col">Tags</th>' in response.content
    assert b"VIP buyers" in response.content


@pytest.mark.parametrize("query", ["example.com", "@example.com", "EXAMPLE.com"])
def test_it_finds_people_by_the_domain_of_their_email(owner_client, account, people, query):
    ContactFactory(profile=people[2], kind="email", value="clara@example.com")
    ContactFactory(profile=people[1], kind="email", value="boris@example.com.hr")
    response = owner_client.get(URL, {"q": query})
    assert sorted(_names(response)) == ["Ana Horvat", "Clara Zeller"]


def test_it_finds_no_one_at_a_domain_of_another_account(outsider_client, people):
    response = outsider_client.get(URL, {"q": "example.com"})
    assert _names(response) == []
