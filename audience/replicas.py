"""Reads on PostgreSQL replicas (DATABASE_REPLICA_URLS), writes on the primary.

Nothing reads a replica by default. A read-heavy entry point (a count, the People list and its
summary, a segment's page) says that it may, with `replica_reads(account_id=…)` or the view
decorator `replica_view`; inside it, `ReplicaRouter` sends reads to a replica that is

- in rotation: it answered and is no more than REPLICA_MAX_LAG_BYTES behind the primary the last
  time it was looked at (every REPLICA_CHECK_SECONDS); a connection error takes it out until then;
- caught up with the account: it has replayed the primary's WAL position recorded at the account's
  last write (`data_changed` records it), so a count is never older than the account's data;
- not asked for by a session that wrote a moment ago (`ReadYourWritesMiddleware`): after a POST
  that wrote, that browser reads the primary for REPLICA_STICKY_SECONDS, for writes that counts
  do not track.

Every write, and every read inside a transaction on the primary, stays on the primary (a read
there may be part of the write, and a replica cannot see the transaction's own rows). A job's own
row (any `audience.jobs.Job`: its status, cancel and progress) is always read on the primary.

A flow's activation reads its entry audience's ids with `replica_only` (as counts, caught up with
the account's last write; else the primary, inside its transaction, with one INSERT … SELECT).

Background jobs read a replica too (`job_reads`, `job_read`, `job_id_chunks`: an export, the
recipients of a broadcast, the people the flows' entries task enrols): one that has replayed
everything committed before the job began, its own row and what it names (a segment, a
broadcast's audience) included, which is at or past the account's last write. It waits
JOB_WAIT_SECONDS at most for that, and reads the primary otherwise.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

# Where reads inside replica_reads go: a replica's alias, or the primary's when replica_reads
# chose it (nested contexts keep it); None outside any (the primary).
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("replica_current", default=None)
# alias -> (status, checked at): "ok", "lagging" or "down".
_status: dict[str, tuple[str, float]] = {}
# alias -> the highest WAL position it was seen to have replayed (it only moves forward).
_replayed: dict[str, int] = {}

STICKY_COOKIE = "audience_primary_until"
# How long a job waits for a replica to replay what was committed before the job began (a local
# standby is milliseconds behind) before it reads the primary instead.
JOB_WAIT_SECONDS = 2.0


def aliases(*, mirrors: bool = False) -> list[str]:
    """The replica aliases. In tests they are mirrors of the primary (settings.py) and not read
    from, but for tests/replicas, which point them at a real standby; `mirrors`: those too."""
    return [
        alias
        for alias in settings.DATABASES
        if alias.startswith("replica_")
        and (mirrors or not connections[alias].settings_dict.get("TEST", {}).get("MIRROR"))
    ]


def _lsn(text: str | None) -> int:
    """A WAL position ("16/B374D848") as a number."""
    if not text:
        return 0
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def _primary_lsn() -> int:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return _lsn(cursor.fetchone()[0])


def _replay_lsn(alias: str) -> int:
    connection = connections[alias]
    connection.close_if_health_check_failed()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_last_wal_replay_lsn()::text")
        replayed = _lsn(cursor.fetchone()[0])
    _replayed[alias] = max(_replayed.get(alias, 0), replayed)
    return replayed


def _answers(alias: str) -> bool:
    connection = connections[alias]
    try:
        connection.ensure_connection()
        return connection.is_usable()
    except Exception:  # any failure means "down"
        return False


def _mark_down(alias: str) -> None:
    logger.warning("replicas: %s did not answer; out of rotation", alias, exc_info=True)
    _status[alias] = ("down", time.monotonic())
    with suppress(DatabaseError):
        connections[alias].close()


def status(alias: str, *, fresh: bool = False) -> str:
    """The replica's state, "ok", "lagging" or "down" ("unknown" while the primary does not
    answer), looked at again when older than REPLICA_CHECK_SECONDS."""
    known = _status.get(alias)
    if known and not fresh and time.monotonic() - known[1] < settings.REPLICA_CHECK_SECONDS:
        return known[0]
    try:
        primary = _primary_lsn()
    except DatabaseError:
        return known[0] if known else "unknown"  # the primary's trouble, not the replica's
    try:
        behind = primary - _replay_lsn(alias)
    except DatabaseError:
        _mark_down(alias)
        return "down"
    found = "lagging" if behind > settings.REPLICA_MAX_LAG_BYTES else "ok"
    if found == "lagging":
        logger.warning("replicas: %s is %s bytes behind; out of rotation", alias, behind)
    _status[alias] = (found, time.monotonic())
    return found


# -- the account's last write --------------------------------------------------------------------
def _written_key(account_id: int) -> str:
    return f"replica:written:{int(account_id)}"


def writes_recorded(account_ids: list[int]) -> None:
    """Keep the primary's WAL position now as the accounts' last write (called by `data_changed`,
    at the write and again at its commit, so the position is at or past the commit)."""
    if not aliases():
        return
    try:
        position = _primary_lsn()
    except DatabaseError:
        return  # the write's own error is the one to report
    for account_id in account_ids:
        key = _written_key(account_id)
        if (cache.get(key) or 0) < position:
            cache.set(key, position, None)


def _needed(account_id: int | None, after: int) -> int:
    """The WAL position a replica must have replayed: the account's last write, `after` if later."""
    if account_id is None:
        return after
    return max(after, cache.get(_written_key(account_id)) or 0)


def _caught_up(alias: str, needed: int) -> bool:
    if needed <= _replayed.get(alias, 0):
        return True  # seen replayed already: no need to ask again
    return _replay_lsn(alias) >= needed


def _choose(account_id: int | None, *, after: int = 0, wait: float = 0) -> str | None:
    needed = _needed(account_id, after)
    deadline = time.monotonic() + wait
    while True:
        in_rotation = False
        for alias in aliases():
            if status(alias) != "ok":
                continue
            in_rotation = True
            try:
                if _caught_up(alias, needed):
                    return alias
            except DatabaseError:
                _mark_down(alias)
        if not in_rotation or time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


@contextmanager
def replica_reads(
    *, account_id: int | None, primary: bool = False, after: int = 0, wait: float = 0
) -> Iterator[str | None]:
    """Reads inside may go to a replica caught up with `account_id`'s last write and with the WAL
    position `after` (`primary`: not this time); one still behind is waited for up to `wait`
    seconds. Yields the alias chosen, None for the primary."""
    outer = _current.get()
    if primary or not aliases() or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        alias = None  # inside a transaction on the primary every read stays there (the router)
    elif outer is not None:
        alias = None if outer == DEFAULT_DB_ALIAS else outer  # nested: the outer choice stands
    else:
        alias = _choose(account_id, after=after, wait=wait)
    token = _current.set(alias or DEFAULT_DB_ALIAS)
    try:
        yield alias
    finally:
        _current.reset(token)


def _read(
    account_id: int | None,
    read: Callable[[], Any],
    *,
    primary: bool,
    after: int = 0,
    wait: float = 0,
    fallback: bool = True,
) -> tuple[Any, str | None]:
    with replica_reads(account_id=account_id, primary=primary, after=after, wait=wait) as alias:
        if alias is None:
            return (read() if fallback else None), None
        try:
            return read(), alias
        except DatabaseError:
            # Down, or a query cancelled by a conflict with recovery: read the primary instead (an
            # error of the read's own comes again there, and is raised from there).
            if not _answers(alias):
                _mark_down(alias)
            else:
                logger.warning(
                    "replicas: a read failed on %s; read again on the primary", alias, exc_info=True
                )
    if not fallback:
        return None, None
    with replica_reads(account_id=account_id, primary=True):
        return read(), None


def on_replica(account_id: int | None, read: Callable[[], Any], *, primary: bool = False) -> Any:
    """`read()` on a replica when one may serve it, and on the primary again if the replica fails
    under it (the read must be one that can run twice: it writes nothing)."""
    return _read(account_id, read, primary=primary)[0]


def replica_only(account_id: int | None, read: Callable[[], Any]) -> tuple[Any, str | None]:
    """`read()` on a replica, chosen as for `on_replica` (caught up with the account's last
    write), and the alias it was read on; `(None, None)` when no replica may serve it or the one
    chosen failed under it. For a caller whose primary read is another statement: a flow's
    activation, which reads the primary inside its transaction with one INSERT … SELECT."""
    return _read(account_id, read, primary=False, fallback=False)


# -- background jobs -----------------------------------------------------------------------------
def job_position() -> int:
    """The primary's WAL position now (0 without replicas): a job's replica must have replayed it,
    so that it holds every row committed before the job began (the job's own row, the segment or
    audience it names) and the account's last write, which came before."""
    if not aliases() or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return 0
    try:
        return _primary_lsn()
    except DatabaseError:
        return 0  # the job's own reads report the primary's trouble


@contextmanager
def job_reads() -> Iterator[str | None]:
    """A whole job's reads (an export, from its task) on a replica that holds everything committed
    before the job began; its writes, and reads of job rows, stay on the primary (the router). A
    replica that fails in the middle fails the job, with the reason on its row, and is out of
    rotation for the next one."""
    with replica_reads(account_id=None, after=job_position(), wait=JOB_WAIT_SECONDS) as alias:
        yield alias


def job_read(read: Callable[[], Any], *, since: int | None = None) -> Any:
    """One read of a job (it can run twice: it writes nothing) on a replica that has replayed
    `since` (the primary's position now by default), else on the primary."""
    after = job_position() if since is None else since
    return _read(None, read, primary=False, after=after, wait=JOB_WAIT_SECONDS)[0]


def _id_chunks(queryset: Any, *, after: int, size: int) -> Iterator[list[int]]:
    """The ids of `queryset` above `after`, `size` at a time in id order (a keyset)."""
    while ids := list(queryset.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:size]):
        yield ids
        after = ids[-1]


def job_id_chunks(run: Any | None, queryset: Any, *, after: int, size: int) -> Iterator[list[int]]:
    """`run.id_chunks` (a `audience.jobs.JobRun`'s keyset chunks of ids, until it is cancelled;
    without a run, until the last) with each chunk read on a replica that holds everything
    committed before the first one, else on the primary: the cancel check reads the job's row, on
    the primary. After a chunk read on the primary the next ones do not wait for the replica to
    catch up, only take it when it has."""
    since, wait = job_position(), JOB_WAIT_SECONDS
    chunks = _id_chunks if run is None else run.id_chunks
    while True:

        def chunk(after: int = after) -> list[int] | None:
            return next(chunks(queryset, after=after, size=size), None)

        ids, alias = _read(None, chunk, primary=False, after=since, wait=wait)
        if not ids:
            return
        if alias is None:
            wait = 0
        yield ids
        after = ids[-1]


def replica_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For a read-only view of an account (after the access decorator, which sets
    `request.account`): its reads may go to a replica; the response is rendered inside, since
    templates evaluate querysets."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        def read() -> HttpResponse:
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
            return response

        account = getattr(request, "account", None)
        return on_replica(getattr(account, "pk", None), read, primary=reads_primary(request))

    return wrapper


# -- the router ----------------------------------------------------------------------------------
def _is_job(model: Any) -> bool:
    from audience.jobs import Job

    return isinstance(model, type) and issubclass(model, Job)


class ReplicaRouter:
    """Reads to the replica chosen by `replica_reads`, when there is one and no transaction is
    open on the primary; writes, migrations and job rows (written under the job as it runs: its
    status, cancel, progress) to the primary only."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        alias = _current.get()
        if alias is None or connections[DEFAULT_DB_ALIAS].in_atomic_block or _is_job(model):
            return DEFAULT_DB_ALIAS
        return alias  # the primary too, when replica_reads chose it

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the same rows, wherever they were read

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS


# -- read-your-writes ----------------------------------------------------------------------------
def reads_primary(request: HttpRequest) -> bool:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        return True
    try:
        return float(request.COOKIES.get(STICKY_COOKIE, "0")) > time.time()
    except ValueError:
        return False


# What a statement on the primary that only reads starts with; anything else counts as a write.
_READS_ONLY = re.compile(
    r"\s*(SELECT|SHOW|SET|EXPLAIN|SAVEPOINT|RELEASE|ROLLBACK|BEGIN|COMMIT|DECLARE|FETCH|CLOSE)\b",
    re.IGNORECASE,
)


class ReadYourWritesMiddleware:
    """After a request that wrote (any method but GET, HEAD and OPTIONS that ran a statement on the
    primary other than a read), the browser reads the primary for REPLICA_STICKY_SECONDS: the next
    page shows what it just did even when a replica has not replayed it yet. A POST that only reads
    (the segment editor's live count, whose rule is too long for a URL) leaves the browser on the
    replicas."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not aliases() or request.method in ("GET", "HEAD", "OPTIONS"):
            return self.get_response(request)
        wrote = False

        def watch(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
            nonlocal wrote
            wrote = wrote or not _READS_ONLY.match(sql)
            return execute(sql, params, many, context)

        with connections[DEFAULT_DB_ALIAS].execute_wrapper(watch):
            response = self.get_response(request)
        if wrote:
            seconds = settings.REPLICA_STICKY_SECONDS
            response.set_cookie(
                STICKY_COOKIE,
                f"{time.time() + seconds:.3f}",
                max_age=seconds,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response
