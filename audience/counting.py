"""Counting profiles without hanging a page: a statement timeout on PostgreSQL and a short cache.

`count_cached(queryset, key=...)` answers the exact number, or None when the database took longer
than COUNT_TIMEOUT_MS ("still counting" on screen; the caller may retry). Used by the People
summary card, the live segment count and the Tags screen.
"""

from __future__ import annotations

import hashlib
import json
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


def count_cache_key(*parts: Any) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return f"count:{digest}"


def count_cached(queryset: QuerySet, *, key: tuple, timeout_ms: int | None = None) -> int | None:
    """The count of `queryset`, cached for COUNT_CACHE_SECONDS under `key` (which must identify
    the account and the criteria, e.g. ("people", account.pk, filters, rule))."""
    cache_key = count_cache_key(*key)
    cached = cache.get(cache_key)
    if cached is not None:
        return cached
    value = count_with_timeout(queryset, timeout_ms=timeout_ms)
    if value is not None:
        cache.set(cache_key, value, settings.COUNT_CACHE_SECONDS)
    return value
