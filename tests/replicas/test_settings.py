"""DATABASE_REPLICA_URLS: each URL an alias, a bad one stops start-up naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOW = "from django.conf import settings as s; print(sorted(s.DATABASES), s.DATABASE_ROUTERS)"


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v for k, v in os.environ.items() if k not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "PYTEST_CURRENT_TEST"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DEBUG": "true", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_each_replica_url_becomes_an_alias():
    result = _manage(
        "shell",
        "-c",
        SHOW,
        DATABASE_URL="postgres://db.example/audience",
        DATABASE_REPLICA_URLS="postgres://r0.example/audience, postgres://r1.example/audience",
    )
    assert result.returncode == 0, result.stderr
    assert "['default', 'replica_0', 'replica_1'] ['audience.replicas.ReplicaRouter']" in result.stdout


def test_replicas_of_the_embedded_sqlite_are_refused():
    result = _manage("check", DATABASE_URL="", DATABASE_REPLICA_URLS="postgres://r0.example/audience")
    assert result.returncode != 0
    assert "DATABASE_REPLICA_URLS: replicas need a PostgreSQL DATABASE_URL" in result.stderr


def test_a_replica_that_is_not_postgresql_is_refused():
    result = _manage(
        "check",
        DATABASE_URL="postgres://db.example/audience",
        DATABASE_REPLICA_URLS="mysql://r0.example/audience",
    )
    assert result.returncode != 0
    assert "DATABASE_REPLICA_URLS: 'mysql://r0.example/audience' is not a PostgreSQL URL" in result.stderr
