"""The DuckDB count engine's files (segments/engines/store.py) with COUNT_ENGINE=duckdb: a count
comes from the account's file only while the file holds the account's latest data; after a write
it comes from the database until the file is rebuilt, then from the file again; a rebuild swaps
the file under open readers; builds of one account never overlap; any DuckDB failure counts in
the database. Real files in tmp_path; on SQLite and on PostgreSQL."""

from __future__ import annotations

import collections
import json
import logging
import threading

import pytest
from django.core.management import call_command

from audience import services as audience_services
from segments import selectors, tasks
from segments import services as segment_services
from segments.engines import store
from tests.audience.test_counting_freshness import HTMX, LONDON, Counts, person, rule_of

pytest.importorskip("duckdb")

LONDON_SHOUTED = rule_of({"attribute": "city", "operator": "is", "value": "LONDON"})


@pytest.fixture
def engine(settings, tmp_path):
    settings.COUNT_ENGINE = "duckdb"
    settings.COUNT_ENGINE_DIR = tmp_path / "engine"
    store.readers_close()
    yield store
    store.readers_close()


@pytest.fixture
def counts(account, owner, owner_client) -> Counts:
    return Counts(account, owner_client, owner)


@pytest.fixture
def people(account):
    return [person(account, 0, city="London"), *(person(account, n, city="Paris") for n in range(1, 4))]


class Served:
    """What served the counts made since the last look (store.served's difference)."""

    def __init__(self) -> None:
        self.seen = collections.Counter(store.served)

    def __call__(self) -> dict[str, int]:
        now = collections.Counter(store.served)
        found = {key: now[key] - self.seen[key] for key in now if now[key] != self.seen[key]}
        self.seen = now
        return found


@pytest.fixture
def served() -> Served:
    return Served()


def editor_count(client, rule: dict) -> int:
    response = client.post("/segments/count/", {"rule": json.dumps(rule)}, **HTMX)
    return Counts._fragment(response)


def test_it_serves_every_count_screen_from_a_fresh_file(engine, account, people, counts, served):
    store.build(account.pk)
    assert counts.shown(LONDON) == {"people": 1, "editor": 1, "api": 1, "segment": 1}
    # Every count from the file (most screens found the first one in the count cache).
    assert set(served()) == {"duckdb"}


def test_a_write_through_a_url_is_counted_by_the_database_until_the_file_is_rebuilt(
    engine, account, people, owner_client, served, monkeypatch
):
    queued = []
    monkeypatch.setattr(
        tasks.count_engine_build_task, "apply_async", lambda args, **kw: queued.append(args)
    )  # no worker yet
    store.build(account.pk)
    assert editor_count(owner_client, LONDON) == 1
    assert served() == {"duckdb": 1}

    response = owner_client.post("/people/new/", {"type": "lead", "external_id": "L1", "city": "London"})
    assert response.status_code == 302
    assert editor_count(owner_client, LONDON) == 2  # the write, counted at once
    assert editor_count(owner_client, LONDON_SHOUTED) == 2
    assert served() == {"stale": 2}  # by the database: the file is older than the write
    assert queued == [[account.pk]]  # one rebuild asked for, however many counts found it stale
    assert store.status(account.pk) == "stale"

    store.build(account.pk)  # the worker's turn
    assert store.status(account.pk) == "fresh"
    assert (
        editor_count(owner_client, rule_of({"attribute": "city", "operator": "is", "value": "london"})) == 2
    )
    assert served() == {"duckdb": 1}


def test_a_committed_write_rebuilds_the_file_through_data_changed(
    transactional_db, engine, account, people, owner_client, served
):
    # Real commits: the write's data_changed says `data_committed` once it is committed, which
    # queues the rebuild (run at once here: tasks are eager in tests).
    store.build(account.pk)
    response = owner_client.post("/people/new/", {"type": "lead", "external_id": "L1", "city": "London"})
    assert response.status_code == 302
    assert store.status(account.pk) == "fresh"
    assert editor_count(owner_client, LONDON) == 2
    assert served() == {"duckdb": 1}


def test_a_missing_file_is_counted_by_the_database_and_built(engine, account, people, owner_client, served):
    assert store.status(account.pk) == "missing"
    assert editor_count(owner_client, LONDON) == 1
    assert served() == {"missing": 1}
    assert store.status(account.pk) == "fresh"  # the count asked for it (the task ran eagerly)
    assert editor_count(owner_client, LONDON_SHOUTED) == 1
    assert served() == {"duckdb": 1}


def test_the_people_card_counts_through_the_engine_when_its_filters_are_rules(
    engine, account, people, owner_client, served
):
    store.build(account.pk)
    assert owner_client.get("/people/count/", {"city": "London"}).context["count"] == 1
    assert served() == {"duckdb": 1}
    # The search box has no counterpart in the rule language: the FilterSet counts it.
    assert owner_client.get("/people/count/", {"q": "p0"}).context["count"] == 1
    assert served() == {}


def test_segment_sizes_count_through_the_engine(engine, account, people, owner, served):
    segment = segment_services.segment_create(account=account, name="Londoners", rule=LONDON, user=owner)
    store.build(account.pk)
    assert segment_services.segment_size_record(segment=segment).size == 1
    assert served() == {"duckdb": 1}


def test_a_rebuild_swaps_the_file_under_an_open_reader(engine, account, people, served):
    store.build(account.pk)
    other = store.connect(store.path_for(account.pk))  # another process's reader, say
    assert selectors.rule_count(account=account, rule=LONDON, cached=False) == 1
    audience_services.profile_create(account=account, fields={"external_id": "L1", "city": "London"})
    store.build(account.pk)

    assert other.execute("SELECT count(*) FROM rule_profiles").fetchone()[0] == 4  # still the old file
    assert selectors.rule_count(account=account, rule=LONDON, cached=False) == 2  # this one re-opened
    assert served() == {"duckdb": 2}
    assert sorted(p.name for p in store.directory().iterdir()) == [
        f"{account.pk}.duckdb",
        f"{account.pk}.lock",
    ]
    other.close()


def test_two_builds_of_an_account_do_not_run_at_once(engine, account, people, monkeypatch):
    from segments.engines import duck_load

    loading, release = threading.Event(), threading.Event()
    real_load = duck_load.load_account

    class Stop(Exception):
        pass

    def load(con, account_id, *, using="default"):
        if threading.current_thread() is threading.main_thread():
            return real_load(con, account_id, using=using)
        # The first build, in a thread of its own, holds the lock while it "copies" (and then
        # stops: a thread's connection would not see this test's uncommitted rows).
        loading.set()
        assert release.wait(10)
        raise Stop

    monkeypatch.setattr(duck_load, "load_account", load)
    outcome = []

    def first_build():
        try:
            store.build(account.pk)
        except Stop:
            outcome.append("stopped")

    first = threading.Thread(target=first_build)
    first.start()
    try:
        assert loading.wait(10)
        assert store.build(account.pk) is None  # the second finds the lock taken
    finally:
        release.set()
        first.join(20)
    assert outcome == ["stopped"]
    assert sorted(p.name for p in store.directory().iterdir()) == [f"{account.pk}.lock"]  # no draft left
    assert store.build(account.pk) is not None  # the lock died with the first build
    assert store.status(account.pk) == "fresh"


def test_a_rebuild_is_asked_for_once_until_it_starts(engine, account, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.count_engine_build_task, "apply_async", lambda args, **kw: queued.append(args))
    assert store.rebuild_request(account.pk) is True
    assert store.rebuild_request(account.pk) is False
    assert queued == [[account.pk]]


def test_a_duckdb_error_counts_in_the_database(
    engine, account, people, owner_client, served, monkeypatch, caplog
):
    from segments.engines import duck_sql

    store.build(account.pk)

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(duck_sql, "rule_count", broken)
    with caplog.at_level(logging.ERROR, logger="segments.engines.store"):
        assert editor_count(owner_client, LONDON) == 1
    assert served() == {"error": 1}
    assert "DuckDB failed" in caplog.text and "disk on fire" in caplog.text


def test_an_unreadable_file_counts_in_the_database(engine, account, people, owner_client, served):
    store.directory().mkdir(parents=True)
    store.path_for(account.pk).write_bytes(b"not a database at all" * 100)
    assert editor_count(owner_client, LONDON) == 1
    assert served() == {"error": 1}


def test_without_the_engine_nothing_is_built_or_read(
    account, people, owner_client, served, settings, tmp_path
):
    settings.COUNT_ENGINE_DIR = tmp_path / "engine"
    assert editor_count(owner_client, LONDON) == 1
    assert served() == {}
    assert not (tmp_path / "engine").exists()


def test_healthz_says_which_engine_counts_and_how_fresh_the_files_are(engine, account, other_account, client):
    store.build(account.pk)
    body = client.get("/healthz").json()
    assert body["counts"] == {"engine": "duckdb", "files": {"fresh": 1, "missing": 1}}


def test_healthz_without_the_engine(client, db):
    assert client.get("/healthz").json()["counts"] == {"engine": "orm"}


def test_the_build_command(engine, account, other_account, people, capsys):
    call_command("counts_engine_build", "--account", "Acme")
    out = capsys.readouterr().out
    assert out.startswith("Acme: built in") and "profiles 4" in out and "[fresh]" in out
    assert store.status(account.pk) == "fresh" and store.status(other_account.pk) == "missing"
