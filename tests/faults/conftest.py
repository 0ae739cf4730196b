"""Fault tests against a REAL Celery worker: a subprocess (prefork pool) on the same PostgreSQL
test database and a real Redis, which the tests kill with SIGKILL in the middle of jobs.

Skipped unless the database is PostgreSQL and the broker Redis (an SQLite test database lives in
this process's memory; a worker in another process can't see it). CI runs them on both.
Each test gets its own queue on Redis database FAULTS_REDIS_DB (15), so nothing foreign is picked
up and nothing is left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

from audience.celery import app

ROOT = Path(__file__).resolve().parents[2]
REDIS_DB = int(os.environ.get("FAULTS_REDIS_DB", "15"))
NEEDS = "fault tests start a real worker: they need PostgreSQL (DATABASE_URL) and Redis (CELERY_BROKER_URL)"
pytestmark = pytest.mark.django_db(transaction=True)


def _usable() -> bool:
    return settings.IS_POSTGRES and settings.CELERY_BROKER_URL.startswith("redis://")


@pytest.fixture(autouse=True)
def _needs_postgres_and_redis():
    if not _usable():
        pytest.skip(NEEDS)


def redis_url() -> str:
    parts = urlsplit(settings.CELERY_BROKER_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{REDIS_DB}", "", ""))


def broker_use(url: str) -> None:
    """Point this process's Celery app at `url`, dropping its pooled connections. (Celery reads
    CELERY_BROKER_URL from the environment before its conf; the write/read URLs come first.)"""
    app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = url
    app._after_fork()  # forgets this app's pools; kombu keeps one per URL, open, for reuse


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture
def queue(transactional_db):
    """This test's own queue on the faults Redis database; tasks really go through it."""
    name = f"faults-{uuid.uuid4().hex[:12]}"
    before = (settings.CELERY_BROKER_URL, app.conf.task_default_queue, app.conf.task_always_eager)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = name
    broker_use(redis_url())
    yield name
    with app.connection_for_write() as conn:
        conn.default_channel.client.delete(name)
    app.conf.task_default_queue, app.conf.task_always_eager = before[1], before[2]
    broker_use(before[0])


def _database_url() -> str:
    db = connection.settings_dict  # the test database pytest-django created
    user = quote(db["USER"] or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


class Worker:
    """One `celery worker` process group; the tests kill it or a pool child with SIGKILL."""

    def __init__(self, process: subprocess.Popen, log: Path):
        self.process, self.log = process, log

    @property
    def pid(self) -> int:
        return self.process.pid

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def wait_ready(self, timeout: float = 30) -> None:
        wait_for(lambda: "ready." in self.log.read_text(errors="replace"), timeout, self.tail)
        wait_for(lambda: self.children(), timeout, self.tail)

    def kill_child(self) -> int:
        """SIGKILL the pool process doing the work (as the OOM killer would); one pool process
        and no embedded beat, so it is the only child."""
        (child,) = self.children()
        os.kill(child, signal.SIGKILL)
        return child

    def kill_all(self) -> None:
        """SIGKILL the whole worker (main process and pool): the machine went away."""
        os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill_all()  # its queue is deleted after the test: nothing to shut down warmly

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def wait_for(predicate: Callable[[], object], timeout: float, details: Callable[[], str] = str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s\n{details()}")


@pytest.fixture
def start_worker(queue, media, tmp_path):
    """start_worker(concurrency=1, beat=False) → a ready Worker on this test's queue and database."""
    workers: list[Worker] = []
    deliveries = tmp_path / "deliveries.txt"
    deliveries.touch()

    def start(
        *,
        concurrency: int = 1,
        beat: bool = False,
        chunk: int = 20,
        delay: float = 0.1,
        env: dict | None = None,
    ) -> Worker:
        extra = env
        env = {k: v for k, v in os.environ.items() if k != "CELERY_TASK_ALWAYS_EAGER"}
        env.update(
            DATABASE_URL=_database_url(),
            CELERY_BROKER_URL=redis_url(),
            CELERY_QUEUE=queue,
            MEDIA_ROOT=str(media),
            COMMUNICATIONS_BACKEND="tests.faults.backends.FileBackend",
            FAULTS_DELIVERIES=str(deliveries),
            FAULTS_CHUNK=str(chunk),
            FAULTS_DELAY=str(delay),
            JOB_HEARTBEAT_SECONDS="1",
            JOB_STALE_SECONDS="3",
            DB_CONN_MAX_AGE="0",
        )
        env.update(extra or {})
        log = tmp_path / f"worker-{len(workers)}.log"
        args = [sys.executable, str(ROOT / "tests/faults/worker.py"), "worker", "--pool=prefork"]
        args += [f"--concurrency={concurrency}", "--loglevel=INFO", f"--hostname={queue}-{len(workers)}@%h"]
        args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        if beat:
            args += ["--beat", f"--schedule={tmp_path / 'beat-schedule'}"]
        with open(log, "wb") as out:
            process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        worker = Worker(process, log)
        workers.append(worker)
        worker.wait_ready()
        return worker

    start.deliveries = deliveries
    yield start
    for worker in workers:
        worker.stop()
