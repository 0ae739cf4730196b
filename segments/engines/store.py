"""The DuckDB count engine's files: one per account, built aside and swapped in, read by every
process that counts, used only while it holds the account's latest data.

Layout: `COUNT_ENGINE_DIR/<account id>.duckdb`, with the account's rows loaded by
`duck_load.load_account` and `duck_sql.prepare`d, plus a one-row table `store_meta` that stamps
the account's data generation (audience.counting) read just before the copy's snapshot began.

Freshness. A count is served from the file only when its stamp equals the account's current
generation; every write moves the generation (at the write and again at its commit), so a write
made after the copy's snapshot leaves the file stale and the next count comes from the database,
as it would without this engine. A stale or missing file asks for a rebuild (`rebuild_request`),
and so does every committed write (`counting.data_committed`): until a worker has rebuilt it,
counts cost what they cost in the database. That window is the build time (docs/rules.md).

Builds. One at a time per account: the builder holds an exclusive `flock` on
`<account id>.lock` beside the file, which the kernel releases when the process dies, so a
killed build never blocks the next (a job row's claim would need a heartbeat to say the same).
A build writes `<account id>.duckdb.<pid>.tmp`, then `os.replace`s it over the file: a reader
either has the old file open (it keeps reading that inode) or opens the new one.

Readers open the file read-only, once per process, and open it again when its inode or mtime
changed (a rebuild replaced it). Any DuckDB error is logged and counted as `error`; the caller
then counts in the database.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import itertools
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone

from audience import counting

log = logging.getLogger(__name__)

META_TABLE = "store_meta"
# A rebuild asked for and not yet started is asked for once: this marker says "queued" (in the
# shared cache) until the build starts, or for this long if its task was lost.
QUEUED_SECONDS = 600

# What served each count this process asked the engine for: "duckdb" (the file), "stale" and
# "missing" (the database, the file being older than the data or absent), "error" (the database,
# after a DuckDB error). Tests and /healthz read it.
served: collections.Counter[str] = collections.Counter()


def enabled() -> bool:
    return settings.COUNT_ENGINE == "duckdb"


def directory() -> Path:
    return Path(settings.COUNT_ENGINE_DIR)


def path_for(account_id: int) -> Path:
    return directory() / f"{int(account_id)}.duckdb"


# -- reading ------------------------------------------------------------------------------------
@dataclass
class _Reader:
    key: tuple[int, int, int]  # the file's (inode, mtime_ns, size) when it was opened
    file: Attached
    generation: int
    built_at: str


_readers: dict[str, _Reader] = {}
_retired: dict[str, list[_Reader]] = {}
_readers_lock = threading.Lock()


def _file_key(path: Path) -> tuple[int, int, int] | None:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return (found.st_ino, found.st_mtime_ns, found.st_size)


# One in-memory DuckDB database per process, to which each store file is attached read-only under
# a name of its own. Creating a DuckDB database costs ~130 ms on this machine (under load), an
# ATTACH ~14 ms. And `duckdb.connect(path)` would not do: DuckDB keeps one database per path in a
# process and hands back the replaced file's while any connection to it is open (seen in a trial).
_process_db: list[Any] = []
_process_lock = threading.Lock()
_aliases = itertools.count(1)


def _database() -> Any:
    import duckdb

    with _process_lock:
        if not _process_db or _process_db[0][0] != os.getpid():  # none yet, or a forked child
            _process_db[:] = [(os.getpid(), duckdb.connect(":memory:"))]
        return _process_db[0][1]


class Attached:
    """A store file attached read-only to this process's DuckDB database: `cursor()` gives a
    connection of its own (threads may count at once) reading that file; `close()` detaches it."""

    def __init__(self, path: Path) -> None:
        self.alias = f"store_{next(_aliases)}"
        self.database = _database()
        self.database.cursor().execute(f"ATTACH ? AS {self.alias} (READ_ONLY)", [str(path)])

    def cursor(self) -> Any:
        cursor = self.database.cursor()
        cursor.execute(f"USE {self.alias}")
        return cursor

    def execute(self, sql: str, params: Any = None) -> Any:
        return self.cursor().execute(sql, params)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a count still running on it ends with an error
            self.database.cursor().execute(f"DETACH {self.alias}")


def connect(path: Path) -> Attached:
    """A store file opened read-only (nothing kept of an earlier opening: a cold read)."""
    return Attached(path)


def _reader(account_id: int) -> _Reader | None:
    """This process's read-only connection to the account's file (None when there is none),
    opened again when a rebuild replaced the file."""
    path = path_for(account_id)
    key = _file_key(path)
    with _readers_lock:
        found = _readers.get(str(path))
        if found is not None and found.key == key:
            return found
        # A replaced (or removed) file is detached one replacement later, not now: a count
        # running on it in another thread ends first.
        for retired in _retired.pop(str(path), []):
            retired.file.close()
        if found is not None:
            _retired[str(path)] = [_readers.pop(str(path))]
        if key is None:
            return None
        file = connect(path)
        try:
            generation, built_at = file.execute(f"SELECT generation, built_at FROM {META_TABLE}").fetchone()
        except Exception:
            file.close()
            raise
        reader = _Reader(key=key, file=file, generation=int(generation), built_at=str(built_at))
        _readers[str(path)] = reader
        return reader


def readers_close() -> None:
    """Close this process's connections (tests; a process that forks)."""
    with _readers_lock:
        for reader in [*_readers.values(), *(r for retired in _retired.values() for r in retired)]:
            reader.file.close()
        _readers.clear()
        _retired.clear()


def rule_count(*, account: Any, rule: dict, now: Any = None) -> int | None:
    """The count of `rule` (normalised) from the account's file, or None when the file is not
    fresh or DuckDB failed: the caller counts in the database then. A file that is not fresh
    asks for a rebuild."""
    generation = counting.data_generation(account.pk)
    try:
        reader = _reader(account.pk)
        if reader is None or reader.generation != generation:
            served["missing" if reader is None else "stale"] += 1
            rebuild_request(account.pk)
            return None
        from segments.engines import duck_sql

        cursor = reader.file.cursor()
        try:
            count = duck_sql.rule_count(cursor, rule, account=account, now=now or timezone.now())
        finally:
            cursor.close()
    except Exception:
        served["error"] += 1
        log.exception("count engine: DuckDB failed for account %s; counted in the database", account.pk)
        return None
    served["duckdb"] += 1
    return int(count)


def status(account_id: int) -> str:
    """ "fresh", "stale" or "missing": whether the next count of the account comes from its file."""
    try:
        reader = _reader(account_id)
    except Exception:
        log.exception("count engine: the file of account %s can't be read", account_id)
        return "unreadable"
    if reader is None:
        return "missing"
    return "fresh" if reader.generation == counting.data_generation(account_id) else "stale"


# -- building -----------------------------------------------------------------------------------
@dataclass
class Build:
    account_id: int
    generation: int
    rows: dict[str, int]
    seconds: float
    path: Path


def _queued_key(account_id: int) -> str:
    return f"count-engine:queued:{int(account_id)}"


@contextlib.contextmanager
def _build_lock(account_id: int) -> Iterator[bool]:
    """True while this holds the account's build lock, False when another build has it."""
    directory().mkdir(parents=True, exist_ok=True)
    fd = os.open(directory() / f"{int(account_id)}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def build(account_id: int, *, using: str = DEFAULT_DB_ALIAS) -> Build | None:
    """Build the account's file from the database and swap it in; None when another build of
    the account is running. A write committed during the build leaves the new file stale
    (its stamp is the generation read before the copy): another build is asked for then."""
    import duckdb

    from segments.engines import duck_load, duck_sql

    with _build_lock(account_id) as held:
        if not held:
            return None
        cache.delete(_queued_key(account_id))  # writes from here on ask for the next build
        started = time.perf_counter()
        generation = counting.data_generation(account_id)
        path = path_for(account_id)
        draft = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        _remove(draft)
        con = duckdb.connect(str(draft))
        try:
            # One snapshot of the account (REPEATABLE READ on PostgreSQL), taken at the copy's
            # first read: after the generation above was read.
            rows = duck_load.load_account(con, account_id, using=using)
            duck_sql.prepare(con)
            con.execute(f"CREATE OR REPLACE TABLE {META_TABLE} (generation BIGINT, built_at VARCHAR)")
            con.execute(f"INSERT INTO {META_TABLE} VALUES (?, ?)", [generation, timezone.now().isoformat()])
            con.execute("CHECKPOINT")
            con.close()
            os.replace(draft, path)
        except BaseException:
            con.close()
            _remove(draft)
            raise
        result = Build(account_id, generation, dict(rows), time.perf_counter() - started, path)
    log.info("count engine: account %s built in %.1f s (%s)", account_id, result.seconds, rows)
    if counting.data_generation(account_id) != generation:
        rebuild_request(account_id)
    return result


def _remove(path: Path) -> None:
    for stray in (path, path.with_name(path.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            os.remove(stray)


def rebuild_request(account_id: int) -> bool:
    """Queue a build of the account's file unless one is queued already (the marker is shared
    by every process through the cache, and cleared when the build starts). False when one was
    queued, or the broker could not take it."""
    if not cache.add(_queued_key(account_id), True, QUEUED_SECONDS):
        return False
    from segments import tasks

    # Sent at once: the callers are a count (nothing to commit) and `data_committed` (after the
    # commit).
    try:
        tasks.count_engine_build_task.apply_async(args=[int(account_id)], retry=False)
    except Exception as error:  # the broker is down: the next stale count asks again
        log.warning("count engine: queueing a build of account %s failed: %s", account_id, error)
        cache.delete(_queued_key(account_id))
        return False
    return True


def on_data_committed(sender: Any, *, account_ids: list[int], **kwargs: Any) -> None:
    """`counting.data_committed`: a committed write makes the accounts' files stale; rebuild them."""
    if not enabled():
        return
    for account_id in account_ids:
        try:
            rebuild_request(account_id)
        except Exception:  # never the writer's problem
            log.exception("count engine: asking for a build of account %s failed", account_id)
