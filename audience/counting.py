"""Counting profiles without hanging a page: a statement timeout on PostgreSQL and a short cache.

`count_cached(queryset, account_id=..., key=...)` answers the exact number, or None when the
database took longer than COUNT_TIMEOUT_MS ("still counting" on screen; the caller may retry).
Used by the People summary card, the live segment count, a segment's page, the API's count and
communications' audiences.

Freshness (DESIGN.md, "Counts": never staler than the last write). Every cached count is kept
under its account's *data generation*, a number in the cache per account. Every write path that
changes something a rule or a People filter reads — profiles, contacts, companies, tags and
their links, events and their summary, attribute and event definitions, Do Not Contact entries
and their accounts, sent messages, the account's time zone — calls `data_changed(account_ids=…)`
once, for every account it wrote to (a Do Not Contact entry applies to several). That moves the
generation twice: at the call, so the writer's own next count is fresh, and again when the
transaction commits, so a count another request cached in between (from the data before the
commit, which it could not see yet) is discarded too. A write path that does not call it leaves
counts up to COUNT_CACHE_SECONDS old: tests/audience/test_counting_freshness.py has one test per
write path. (It used to be guessed from the SQL of every statement, which missed `INSERT OR
IGNORE`, `WITH … INSERT` and the like.)
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, router, transaction
from django.db.models import QuerySet
from django.dispatch import Signal

from audience import replicas


class Countable(Protocol):
    """A queryset, or anything else that counts its rows in one statement."""

    def count(self) -> int: ...


def count_with_timeout(queryset: Countable, *, timeout_ms: int | None = None) -> int | None:
    """The count, or None past the timeout; on the database the router reads from (a replica
    inside `replicas.replica_reads`, as `cached` counts are)."""
    timeout_ms = settings.COUNT_TIMEOUT_MS if timeout_ms is None else timeout_ms
    # The router's choice: a replica inside replicas.replica_reads. (Not only querysets come
    # here: segments' complement and serial counts have a count() of their own.)
    model: Any = getattr(queryset, "model", None)
    using = getattr(queryset, "db", None) or router.db_for_read(model)
    if connections[using].vendor != "postgresql":
        return queryset.count()
    try:
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = %s", [int(timeout_ms)])
            return queryset.count()
    except OperationalError as error:
        text = str(error)
        # A query cancelled by a conflict with a standby's recovery is not a timeout: raised, so
        # that replicas.on_replica reads the primary instead.
        if "statement timeout" in text or ("canceling statement" in text and "recovery" not in text):
            return None
        raise


# -- the data generation ----------------------------------------------------------------------
def _generation_key(account_id: int) -> str:
    return f"count:generation:{int(account_id)}"


def data_generation(account_id: int) -> int:
    """The account's data generation. It starts at a clock value, so a key that was lost (evicted,
    or a cache restarted) comes back higher than before, never at a value old counts were kept
    under."""
    key = _generation_key(account_id)
    found = cache.get(key)
    if found is None:
        cache.add(key, time.time_ns(), None)
        found = cache.get(key, 0)
    return found


def _bump(account_ids: list[int]) -> None:
    for account_id in account_ids:
        key = _generation_key(account_id)
        try:
            cache.incr(key)
        except ValueError:  # missing (never read, or evicted): start a new, higher one
            cache.add(key, time.time_ns(), None)
    replicas.writes_recorded(account_ids)


# Sent once a write that moved these accounts' generation is committed (`account_ids`, a sorted
# list): a second count engine (segments/engines/store.py) refreshes its copy of the data then.
data_committed = Signal()


def _committed(account_ids: list[int]) -> None:
    data_committed.send_robust(sender=None, account_ids=account_ids)


class _CommitBump:
    """The bump a transaction owes at its commit: one per transaction, gathering the accounts of
    every `data_changed` made in it."""

    def __init__(self) -> None:
        self.account_ids: set[int] = set()

    def __call__(self) -> None:
        _bump(sorted(self.account_ids))
        _committed(sorted(self.account_ids))


def data_changed(*, account_ids: Iterable[int | None], using: str = DEFAULT_DB_ALIAS) -> None:
    """Say that the data of these accounts changed (on the connection `using`): their cached
    counts are not used again. Call it once per write path, in the write's transaction, after
    the write; see the module's docstring."""
    ids = {int(pk) for pk in account_ids if pk is not None}
    if not ids:
        return
    _bump(sorted(ids))
    writer = connections[using]
    if not writer.in_atomic_block:
        # autocommit: the write is committed already, the bump above came after it
        _committed(sorted(ids))
        return
    # Each entry is (savepoint ids, func, robust).
    for entry in writer.run_on_commit:
        func = entry[1]
        # One bump owed already by this transaction takes these accounts too. It is never lost
        # while this write stands: the savepoints it was registered in are either still open
        # (then this write is inside them, and a rollback of one drops both) or released (then
        # nothing can roll them back). A rollback of this write alone leaves an extra bump,
        # which costs a recount, never a stale count.
        if isinstance(func, _CommitBump):
            func.account_ids |= ids
            return
    owed = _CommitBump()
    owed.account_ids |= ids
    transaction.on_commit(owed, using=using)


# -- the cache ----------------------------------------------------------------------------------
def count_cache_key(account_id: int, *parts: Any) -> str:
    """The cache key of `parts` (what is counted and the criteria) for the account's current data."""
    payload = json.dumps([data_generation(account_id), *parts], sort_keys=True, default=str)
    return f"count:{int(account_id)}:{hashlib.sha256(payload.encode()).hexdigest()}"


def cached(account_id: int, key: tuple, compute: Callable[[], Any]) -> Any:
    """`compute()`, kept for COUNT_CACHE_SECONDS under `key` and the account's data generation
    (read before computing: a write committed meanwhile moves it on, so the answer, perhaps from
    the data before that write, is never found again); a None answer (a timed-out count) is not
    kept. `compute()` reads a replica that has replayed the account's last write, when there is
    one (audience/replicas.py), so it must only read."""
    cache_key = count_cache_key(account_id, *key)
    found = cache.get(cache_key)
    if found is not None:
        return found
    value = replicas.on_replica(account_id, compute)
    if value is not None:
        cache.set(cache_key, value, settings.COUNT_CACHE_SECONDS)
    return value


def count_cached(
    queryset: QuerySet, *, account_id: int, key: tuple, timeout_ms: int | None = None
) -> int | None:
    """The count of `queryset` (the account's profiles matching something), cached under `key`
    (what is counted and the criteria, e.g. ("people", filters, rule)) for `account_id`."""
    return cached(account_id, key, lambda: count_with_timeout(queryset, timeout_ms=timeout_ms))


# -- the Django admin ---------------------------------------------------------------------------
def _account_field(model: Any) -> str:
    return "account_id" if hasattr(model, "account_id") else "pk"  # pk: the Account itself


if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    _AdminBase = ModelAdmin[Any]
else:
    _AdminBase = object


class DataChangedAdminMixin(_AdminBase):
    """For the ModelAdmin of a model that counts read: the admin writes past the services, so
    its saves (with their inlines) and deletes say `data_changed` for the row's account — the
    account itself for Account, and the one a row was moved away from as well."""

    def _account_ids(self, obj: Any) -> set[int]:
        return {getattr(obj, _account_field(type(obj)))}

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        moved_from = form.initial.get("account") if change else None
        data_changed(account_ids={*self._account_ids(obj), getattr(moved_from, "pk", moved_from)})

    def save_related(self, request: Any, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        data_changed(account_ids=self._account_ids(form.instance))

    def delete_model(self, request: Any, obj: Any) -> None:
        account_ids = self._account_ids(obj)
        super().delete_model(request, obj)
        data_changed(account_ids=account_ids)

    def delete_queryset(self, request: Any, queryset: QuerySet) -> None:
        account_ids = set(queryset.values_list(_account_field(queryset.model), flat=True))
        super().delete_queryset(request, queryset)
        data_changed(account_ids=account_ids)
