"""Counting profiles without hanging a page: a statement timeout on PostgreSQL and a short cache.

`count_cached(queryset, key=...)` answers the exact number, or None when the database took longer
than COUNT_TIMEOUT_MS ("still counting" on screen; the caller may retry). Used by the People
summary card, the live segment count and the Tags screen.

Freshness: every cache key carries the *data generation*, a number in the cache that goes up
whenever a statement writes to a table that counts read (profiles, contacts, companies, events,
tags, Do Not Contact, attribute/event definitions, the account itself) — once at the write (so the
writer's own next count is fresh) and again when the transaction commits (so a count another
request cached in between, from the old data, is discarded too). The write is seen by a database
execute wrapper (`watch_writes`, installed on every connection), so bulk_create, queryset.update()
and raw SQL through Django's cursor invalidate as well as model.save(). COUNT_CACHE_SECONDS only
bounds what is kept.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, connection, transaction
from django.db.models import QuerySet


def count_with_timeout(queryset: QuerySet, *, timeout_ms: int | None = None) -> int | None:
    timeout_ms = settings.COUNT_TIMEOUT_MS if timeout_ms is None else timeout_ms
    if connection.vendor != "postgresql":
        return queryset.count()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = %s", [int(timeout_ms)])
            return queryset.count()
    except OperationalError as error:
        if "statement timeout" in str(error) or "canceling statement" in str(error):
            return None
        raise


GENERATION_KEY = "count:generation"
# The tables whose rows a count reads; a write to any of them makes every cached count old.
WATCHED_TABLES = (
    "audience_account",
    "audience_profile",
    "audience_contact",
    "audience_company",
    "audience_event",
    "audience_attributedefinition",
    "audience_eventdefinition",
    "tags_tag",
    "tags_profiletag",
    "tags_companytag",
    "dnc_dncentry",
    "dnc_dncentryaccount",
)
_WRITE = re.compile(
    r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+"?('
    + "|".join(WATCHED_TABLES)
    + r')"?\b',
    re.IGNORECASE,
)


def generation() -> int:
    """The data generation (starts at a clock value, so a lost key never brings back old counts)."""
    found = cache.get(GENERATION_KEY)
    if found is None:
        cache.add(GENERATION_KEY, time.time_ns(), None)
        found = cache.get(GENERATION_KEY, 0)
    return found


def generation_bump() -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # missing (never read, or evicted): start a new, higher one
        cache.add(GENERATION_KEY, time.time_ns(), None)


def watch_writes(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
    """Execute wrapper: after a write to a watched table, bump the generation now and on commit."""
    result = execute(sql, params, many, context)
    if isinstance(sql, str) and _WRITE.match(sql):
        generation_bump()
        connection_ = context["connection"]
        pending = getattr(connection_, "run_on_commit", [])
        if not any(entry[1] is generation_bump for entry in pending):
            connection_.on_commit(generation_bump)
    return result


def watch_writes_install(sender: Any = None, connection: Any = None, **kwargs: Any) -> None:
    """`connection_created` receiver: put `watch_writes` on each new database connection."""
    if watch_writes not in connection.execute_wrappers:
        connection.execute_wrappers.append(watch_writes)


def count_cache_key(*parts: Any) -> str:
    payload = json.dumps([generation(), *parts], sort_keys=True, default=str)
    return f"count:{hashlib.sha256(payload.encode()).hexdigest()}"


def cached(key: tuple, compute: Callable[[], Any]) -> Any:
    """`compute()`, kept for COUNT_CACHE_SECONDS under `key` and the data generation; a None
    answer (a timed-out count) is not kept."""
    cache_key = count_cache_key(*key)
    found = cache.get(cache_key)
    if found is not None:
        return found
    value = compute()
    if value is not None:
        cache.set(cache_key, value, settings.COUNT_CACHE_SECONDS)
    return value


def count_cached(queryset: QuerySet, *, key: tuple, timeout_ms: int | None = None) -> int | None:
    """The count of `queryset`, cached under `key` (which must identify the account and the
    criteria, e.g. ("people", account.pk, filters, rule)) and the data generation."""
    return cached(key, lambda: count_with_timeout(queryset, timeout_ms=timeout_ms))
