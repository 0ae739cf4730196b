from __future__ import annotations

import pytest
from django.core.cache import cache

from audience import counting
from tests.factories import ProfileFactory

URL = "/people/count/"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def people(account, other_account):
    ProfileFactory.create_batch(3, account=account, city="Zagreb")
    ProfileFactory.create_batch(2, account=account, city="Split")
    ProfileFactory.create_batch(4, account=other_account, city="Zagreb")


@pytest.mark.parametrize("who", ["owner_client", "teammate_client", "viewer_client"])
def test_it_counts_the_accounts_people(request, who, people):
    response = request.getfixturevalue(who).get(URL)
    assert response.status_code == 200
    assert 'data-count="5"' in response.content.decode()
    assert b"persons match" in response.content


def test_it_counts_only_the_outsiders_own_account(outsider_client, people):
    assert 'data-count="4"' in outsider_client.get(URL).content.decode()


def test_it_counts_with_the_lists_filters(owner_client, people):
    body = owner_client.get(f"{URL}?city=split&sort=name&after=xyz").content.decode()
    assert 'data-count="2"' in body
    assert "Select all 2 matching the filter" in body
    assert 'name="all" value="1" form="bulk-form"' in body


def test_it_says_one_person_in_the_singular(owner_client, account):
    ProfileFactory(account=account)
    assert b"1</span>" in owner_client.get(URL).content
    assert b"person matches" in owner_client.get(URL).content


def test_it_formats_big_numbers(owner_client, monkeypatch):
    monkeypatch.setattr(counting, "count_with_timeout", lambda queryset, timeout_ms=None: 1234567)
    assert b"1,234,567" in owner_client.get(URL).content


def test_it_says_still_counting_and_retries_when_the_count_times_out(owner_client, people, monkeypatch):
    monkeypatch.setattr(counting, "count_with_timeout", lambda queryset, timeout_ms=None: None)
    body = owner_client.get(f"{URL}?city=Zagreb").content.decode()
    assert "Still counting" in body
    assert 'hx-get="/people/count/?city=Zagreb"' in body
    assert 'hx-trigger="load delay:2s"' in body


def test_it_explains_an_invalid_filter(owner_client, people):
    response = owner_client.get(f"{URL}?created_after=nope")
    assert response.status_code == 200
    assert b"Can&#x27;t count" in response.content or b"Can't count" in response.content


def test_it_explains_an_invalid_rule(owner_client, people):
    response = owner_client.get(f"{URL}?rule=%7B")
    assert b"not valid JSON" in response.content


def test_the_list_does_not_wait_for_the_count(owner_client, people, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the list must not count")

    monkeypatch.setattr(counting, "count_with_timeout", refuse)
    response = owner_client.get("/people/")
    assert response.status_code == 200
    assert 'hx-get="/people/count/?' in response.content.decode()


def test_a_write_is_counted_at_once_not_after_the_cache_expires(owner_client, account, people):
    """The count is cached, but under the account's data generation that every write moves on."""
    assert 'data-count="3"' in owner_client.get(f"{URL}?city=Zagreb").content.decode()
    for external_id in ("Z1", "Z2"):
        data = {"type": "lead", "external_id": external_id, "city": "Zagreb"}
        assert owner_client.post("/people/new/", data).status_code == 302
    assert 'data-count="5"' in owner_client.get(f"{URL}?city=Zagreb").content.decode()
