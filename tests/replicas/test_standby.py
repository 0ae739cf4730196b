"""Reads on a real hot standby (tests/replicas/conftest.py): counts and the People list read it,
writes go to the primary, a person sees their own change with replay paused, a count never comes
from a standby behind the account's last write, and the app answers with the standby stopped."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connections
from django.test.utils import CaptureQueriesContext

from audience import replicas, services
from audience.models import Profile
from tests.factories import ProfileFactory
from tests.replicas.conftest import replayed, standby_stopped

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not (settings.IS_POSTGRES and replicas.aliases(mirrors=True)),
        reason="needs PostgreSQL and DATABASE_REPLICA_URLS (a standby: bin/standby-start)",
    ),
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

PEOPLE = "/people/"
COUNT = "/people/count/"


@pytest.fixture
def zagreb(account, other_account):
    ProfileFactory.create_batch(3, account=account, city="Zagreb")
    ProfileFactory.create_batch(2, account=other_account, city="Zagreb")
    return account


def _profile_reads(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if '"audience_profile"' in q["sql"]]


def test_it_reads_the_people_list_and_its_count_on_the_standby(standby, observe, zagreb, owner_client):
    replayed(observe)
    with CaptureQueriesContext(connections[standby]) as on_standby:
        page = owner_client.get(f"{PEOPLE}?city=Zagreb")
        count = owner_client.get(f"{COUNT}?city=Zagreb")
    assert page.status_code == 200 and count.status_code == 200
    assert 'data-count="3"' in count.content.decode()
    assert any("COUNT(" in sql for sql in _profile_reads(on_standby))
    assert len(_profile_reads(on_standby)) >= 2  # the list and the count
    # The app's connection of that alias is a backend of the standby, in recovery.
    pid = connections[standby].connection.info.backend_pid
    seen = (
        observe["standby"]
        .execute("SELECT datname, pg_is_in_recovery() FROM pg_stat_activity WHERE pid = %s", [pid])
        .fetchone()
    )
    assert seen == (connections["default"].settings_dict["NAME"], True)


def test_an_outsider_reads_only_their_own_account_on_the_standby(standby, observe, zagreb, outsider_client):
    replayed(observe)
    with CaptureQueriesContext(connections[standby]) as on_standby:
        count = outsider_client.get(f"{COUNT}?city=Zagreb")
    assert 'data-count="2"' in count.content.decode()
    assert _profile_reads(on_standby)


def test_writes_go_to_the_primary(standby, observe, account, teammate_client):
    with CaptureQueriesContext(connections[standby]) as on_standby:
        response = teammate_client.post(
            "/people/new/", {"type": "lead", "external_id": "W1", "city": "Rijeka"}
        )
    assert response.status_code == 302
    assert not [
        q for q in on_standby.captured_queries if q["sql"].split()[0] in {"INSERT", "UPDATE", "DELETE"}
    ]
    found = (
        observe["primary"]
        .execute(
            "SELECT city FROM audience_profile WHERE account_id = %s AND external_id = 'W1'", [account.pk]
        )
        .fetchone()
    )
    assert found == ("Rijeka",)


def test_a_person_sees_their_change_with_replay_paused(
    standby, observe, zagreb, owner_client, teammate_client
):
    profile = Profile.objects.filter(account=zagreb).first()
    replayed(observe)
    observe["standby"].execute("SELECT pg_wal_replay_pause()")
    edit = owner_client.get(f"/people/{profile.pk}/edit/")
    assert edit.status_code == 200
    data = {"type": "lead", "external_id": "P1", "first_name": "Ana", "city": "Split"}
    saved = owner_client.post(f"/people/{profile.pk}/edit/", data)
    assert saved.status_code == 302, saved.context["form"].errors
    standby_city = observe["standby"].execute("SELECT city FROM audience_profile WHERE id = %s", [profile.pk])
    assert standby_city.fetchone() == ("Zagreb",)  # the standby has not seen the change

    # The writer's next pages, and their count, come from the primary.
    assert "Split" in owner_client.get(f"{PEOPLE}?city=Split").content.decode()
    assert 'data-count="1"' in owner_client.get(f"{COUNT}?city=Split").content.decode()
    # A teammate who wrote nothing: the account's last write is past what the standby replayed,
    # so their count falls back to the primary too.
    with CaptureQueriesContext(connections[standby]) as on_standby:
        count = teammate_client.get(f"{COUNT}?city=Split")
    assert 'data-count="1"' in count.content.decode()
    assert not _profile_reads(on_standby)


def test_a_count_falls_back_to_the_primary_when_the_standby_is_behind(standby, observe, zagreb, owner_client):
    replayed(observe)
    observe["standby"].execute("SELECT pg_wal_replay_pause()")
    services.profile_create(account=zagreb, fields={"city": "Zagreb"})
    with CaptureQueriesContext(connections[standby]) as on_standby:
        count = owner_client.get(f"{COUNT}?city=Zagreb")
    assert 'data-count="4"' in count.content.decode()
    assert not _profile_reads(on_standby)
    # Replayed again: the standby serves the count.
    observe["standby"].execute("SELECT pg_wal_replay_resume()")
    replayed(observe)
    services.profile_create(account=zagreb, fields={"city": "Zagreb"})
    replayed(observe)
    with CaptureQueriesContext(connections[standby]) as on_standby:
        count = owner_client.get(f"{COUNT}?city=Zagreb")
    assert 'data-count="5"' in count.content.decode()
    assert _profile_reads(on_standby)


def test_healthz_names_each_replica(standby, observe, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["replicas"] == {standby: "ok"}


def test_the_app_answers_with_the_standby_stopped(standby, observe, zagreb, owner_client, client):
    replayed(observe)
    observe["standby"].close()  # the fixture's own connection would block a fast stop's wait
    observe["standby"] = None
    with standby_stopped():
        page = owner_client.get(f"{PEOPLE}?city=Zagreb")
        count = owner_client.get(f"{COUNT}?city=Zagreb")
        health = client.get("/healthz")
    assert page.status_code == 200 and count.status_code == 200
    assert 'data-count="3"' in count.content.decode()
    assert health.status_code == 200 and health.json()["replicas"] == {standby: "down"}


def test_after_a_post_that_browser_reads_the_primary(
    standby, observe, account, teammate_client, owner_client
):
    # Saving a segment moves no count (no profile data changed), so only the browser's
    # "wrote a moment ago" cookie keeps its next page off the paused standby.
    replayed(observe)
    observe["standby"].execute("SELECT pg_wal_replay_pause()")
    rule = '{"version": 1, "attributes": {"match": "all", "conditions": []}}'
    saved = teammate_client.post("/segments/new/", {"name": "Everyone now", "rule": rule})
    assert saved.status_code == 302 and replicas.STICKY_COOKIE in saved.cookies
    assert "Everyone now" in teammate_client.get(saved["Location"]).content.decode()
    # A browser that wrote nothing reads the standby, which has not replayed the segment yet.
    assert owner_client.get(saved["Location"]).status_code == 404


def test_a_post_that_only_reads_leaves_that_browser_on_the_standby(standby, observe, zagreb, owner_client):
    # The segment editor's live count is a POST (the rule is too long for a URL) that writes nothing.
    replayed(observe)
    rule = '{"version": 1, "attributes": {"match": "all", "conditions": [{"attribute": "city", "operator": "in", "value": ["Zagreb"]}]}}'
    counted = owner_client.post("/segments/count/", {"rule": rule})
    assert counted.status_code == 200 and replicas.STICKY_COOKIE not in counted.cookies
    with CaptureQueriesContext(connections[standby]) as on_standby:
        page = owner_client.get(f"{PEOPLE}?city=Zagreb")
    assert page.status_code == 200
    assert _profile_reads(on_standby)
