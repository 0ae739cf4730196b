"""The count cache: a repeated count is answered without the database, and no write leaves a
cached count (or sample) behind — the key carries the account's data generation, which every
write service moves on (audience.counting.data_changed). Every write path, through its URL:
tests/audience/test_counting_freshness.py."""

from __future__ import annotations

import json

import pytest
from django.db import transaction

from audience import counting
from audience import services as audience_services
from audience.models import Notification
from segments import selectors
from tags import services as tag_services

LONDON = {
    "version": 1,
    "attributes": {
        "match": "all",
        "conditions": [{"attribute": "city", "operator": "is", "value": "london"}],
    },
}
VIP = {
    "version": 1,
    "attributes": {"match": "all", "conditions": [{"attribute": "tags", "operator": "is", "value": "vip"}]},
}


def test_a_second_identical_count_does_not_query(world, account, django_assert_num_queries):
    assert selectors.rule_count(account=account, rule=LONDON) == 1
    with django_assert_num_queries(0):
        assert selectors.rule_count(account=account, rule=LONDON) == 1
    with django_assert_num_queries(0):  # the same rule, keys in another order
        assert selectors.rule_count(account=account, rule=dict(reversed(list(LONDON.items())))) == 1


def test_the_sample_is_kept_with_the_count(world, account, django_assert_num_queries):
    first = selectors.rule_sample(account, LONDON)
    with django_assert_num_queries(1):  # the five profiles by id, not the rule's query
        assert selectors.rule_sample(account, LONDON) == first == [world["ann"]]


def test_a_timed_out_count_is_not_kept(world, account, monkeypatch):
    answers = iter([None, 7])
    monkeypatch.setattr(counting, "count_with_timeout", lambda queryset, timeout_ms=None: next(answers))
    assert selectors.rule_count(account=account, rule=LONDON) is None
    assert selectors.rule_count(account=account, rule=LONDON) == 7


def _tag_bob(world, account):
    vip = tag_services.tag_get_or_create(account=account, name="VIP")
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[world["bob"].pk])


WRITES = [
    pytest.param(
        LONDON,
        lambda w, a: audience_services.profile_update(profile=w["bob"], fields={"city": "London"}),
        id="update",
    ),
    pytest.param(LONDON, lambda w, a: audience_services.profile_delete(profile=w["ann"]), id="delete"),
    pytest.param(
        LONDON,
        lambda w, a: audience_services.profile_create(account=a, fields={"city": "london"}),
        id="create",
    ),
    pytest.param(VIP, _tag_bob, id="tags_add"),
]


@pytest.mark.parametrize(("rule", "write"), WRITES)
def test_no_write_leaves_a_cached_count_behind(
    world, account, rule, write, django_capture_on_commit_callbacks
):
    before = selectors.rule_count(account=account, rule=rule)
    sample = selectors.rule_sample(account, rule)
    with django_capture_on_commit_callbacks(execute=True):
        write(world, account)
    fresh = selectors.rule_count(account=account, rule=rule, cached=False)
    assert fresh != before
    assert selectors.rule_count(account=account, rule=rule) == fresh
    newest = list(selectors.rule_queryset(account=account, rule=rule).order_by("-id")[:5])
    assert selectors.rule_sample(account, rule) == newest != sample


@pytest.mark.django_db(transaction=True)
def test_the_generation_moves_at_the_write_and_again_at_commit(account, other_account):
    """At the write, so the writer's next count is fresh; at commit (once per transaction), so a
    count another request cached meanwhile (from the data before the commit) is not used either.
    Only the account written to moves."""
    profile = audience_services.profile_create(account=account, fields={"city": "Split"})
    start, other = counting.data_generation(account.pk), counting.data_generation(other_account.pk)
    with transaction.atomic():
        audience_services.profile_update(profile=profile, fields={"city": "Rome"})
        audience_services.profile_update(profile=profile, fields={"city": "Oslo"})
        assert counting.data_generation(account.pk) == start + 2
    assert counting.data_generation(account.pk) == start + 3
    assert counting.data_generation(other_account.pk) == other


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_savepoint_still_moves_it_at_commit(account):
    """A bump owed by an outer transaction stays owed when a savepoint inside it is rolled back."""
    start = counting.data_generation(account.pk)
    with transaction.atomic():
        audience_services.profile_create(account=account, fields={"city": "Split"})
        try:
            with transaction.atomic():
                audience_services.profile_create(account=account, fields={"city": "Rome"})
                raise RuntimeError
        except RuntimeError:
            pass
    assert counting.data_generation(account.pk) == start + 3


def test_writes_elsewhere_keep_the_cache(world, account, other_account, django_assert_num_queries):
    assert selectors.rule_count(account=account, rule=LONDON) == 1
    Notification.objects.filter(pk=-1).update(message="x")
    audience_services.profile_create(account=other_account, fields={"city": "London"})
    with django_assert_num_queries(0):
        assert selectors.rule_count(account=account, rule=LONDON) == 1


def test_a_timed_out_count_goes_on_in_the_background(world, account, monkeypatch, django_assert_num_queries):
    """The page's count gives up (None); the worker's, with the longer limit, fills the cache that
    the page's retry reads. A second give-up while it runs does not queue another."""
    from segments import services, tasks

    page_count = counting.count_with_timeout
    queued = []

    def short(queryset, timeout_ms=None):
        return None if timeout_ms is None else page_count(queryset, timeout_ms=timeout_ms)

    monkeypatch.setattr(counting, "count_with_timeout", short)
    monkeypatch.setattr(tasks.rule_count_task, "apply_async", lambda args, retry: queued.append(args))
    assert selectors.rule_count(account=account, rule=LONDON) is None
    assert services.rule_count_in_background(account=account, rule=LONDON) is True
    assert services.rule_count_in_background(account=account, rule=LONDON) is False
    assert queued == [[account.pk, LONDON]]
    assert tasks.rule_count_task(*queued[0]) == 1
    with django_assert_num_queries(0):
        assert selectors.rule_count(account=account, rule=LONDON) == 1


def test_the_count_view_starts_the_background_count_when_it_gives_up(
    world, account, owner_client, monkeypatch
):
    from segments import tasks

    queued = []
    monkeypatch.setattr(counting, "count_with_timeout", lambda queryset, timeout_ms=None: None)
    monkeypatch.setattr(tasks.rule_count_task, "apply_async", lambda args, retry: queued.append(args))
    response = owner_client.post("/segments/count/", {"rule": json.dumps(LONDON)}, HTTP_HX_REQUEST="true")
    assert "Still counting" in response.content.decode()
    assert queued == [[account.pk, LONDON]]


def test_still_counting_asks_again_by_itself_until_the_count_is_there(
    world, account, owner_client, monkeypatch
):
    from segments import tasks

    monkeypatch.setattr(tasks.rule_count_task, "apply_async", lambda args, retry: None)
    monkeypatch.setattr(counting, "count_with_timeout", lambda queryset, timeout_ms=None: None)
    body = owner_client.post("/segments/count/", {"rule": json.dumps(LONDON)}, HTTP_HX_REQUEST="true").text
    # The editor's retry posts the current rule again; it replaces the whole count fragment.
    assert 'hx-post="/segments/count/"' in body and 'hx-include="#rule-input"' in body
    assert 'hx-trigger="load delay:3s"' in body and 'hx-target="#rule-count"' in body
    monkeypatch.undo()
    body = owner_client.post("/segments/count/", {"rule": json.dumps(LONDON)}, HTTP_HX_REQUEST="true").text
    assert "data-count-retry" not in body and "person matches" in body
