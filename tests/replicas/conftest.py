"""A real hot standby of the test database (bin/standby-start; .ci/run starts one).

Run with DATABASE_REPLICA_URLS pointing at the standby (any database name: the alias is pointed at
the standby's copy of the test database, which it replays from the primary)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connections

from audience import replicas

STANDBY_DIR = Path(os.environ.get("STANDBY_DIR", "/tmp/audience-standby"))


def _connect(settings_dict: dict) -> psycopg.Connection:
    return psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or None,
        dbname=settings_dict["NAME"],
        autocommit=True,
    )


@pytest.fixture
def standby(django_db_setup, django_db_blocker) -> Iterator[str]:
    """The first replica alias, reading the standby's copy of the primary's test database (the
    settings make replicas mirrors of the primary in tests, as a test database cannot be created
    on a standby); mirrors again afterwards, for the tests of other modules."""
    mirrored = {name: connections[name].settings_dict for name in replicas.aliases(mirrors=True)}
    test_name = connections["default"].settings_dict["NAME"]
    with django_db_blocker.unblock():
        for name in mirrored:
            connections[name].close()
            connections[name].settings_dict = {**settings.DATABASES[name], "NAME": test_name, "TEST": {}}
    yield replicas.aliases()[0]
    with django_db_blocker.unblock():
        for name, settings_dict in mirrored.items():
            connections[name].close()
            connections[name].settings_dict = settings_dict


@pytest.fixture
def observe(standby) -> Iterator[dict[str, psycopg.Connection]]:
    """Connections of the test's own to the primary and the standby, outside the app."""
    opened = {
        "primary": _connect(connections["default"].settings_dict),
        "standby": _connect(connections[standby].settings_dict),
    }
    yield opened
    if opened["standby"] is not None:
        opened["standby"].execute("SELECT pg_wal_replay_resume()")
    for conn in opened.values():
        if conn is not None:
            conn.close()


@pytest.fixture(autouse=True)
def _replicas_looked_at_every_time(settings):
    # Each test sees the replica as it is now, not as an earlier test left it.
    settings.REPLICA_CHECK_SECONDS = 0
    # The standby replays the whole server: on one shared with other databases, their writes while
    # a test holds replay paused must not take it out of rotation for being too far behind.
    settings.REPLICA_MAX_LAG_BYTES = 1 << 40


def replayed(observe: dict, *, timeout: float = 30) -> None:
    """Wait until the standby has replayed everything the primary wrote so far."""
    target = observe["primary"].execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = (
            observe["standby"]
            .execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            .fetchone()[0]
        )
        if done:
            return
        time.sleep(0.05)
    raise AssertionError("the standby did not replay the primary's writes in time")


def _pg_ctl(*args: str) -> None:
    binary = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
    command = [str(binary), "-D", str(STANDBY_DIR), *args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=330)


@contextmanager
def standby_stopped() -> Iterator[None]:
    """The local standby stopped, and started again afterwards (it is bin/standby-start's)."""
    if not (STANDBY_DIR / "standby.signal").exists():
        pytest.skip(f"the standby is not a local one in {STANDBY_DIR}: it cannot be stopped here")
    _pg_ctl("-m", "fast", "-w", "stop")
    try:
        yield
    finally:
        # Started again, it replays what the primary wrote meanwhile (kept for it by its slot)
        # before it answers: on a busy server that takes longer than pg_ctl's 60 s by default.
        _pg_ctl("-l", str(STANDBY_DIR / "standby.log"), "-w", "-t", "300", "start")
