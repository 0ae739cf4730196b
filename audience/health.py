"""The health check: can this process reach the database and the task broker? (And which read
replicas are in rotation, which does not change the answer.)

`/healthz` is public (load balancers call it without signing in), so it says only which check
failed; the driver's error, which names hosts, ports and databases, goes to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import connection

from audience import replicas
from audience.celery import app as celery_app

logger = logging.getLogger(__name__)


def database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any failure means "not healthy"
        logger.exception("health: the database did not answer")
        return False, "database: unavailable"
    return True, "database: ok"


def broker_ok() -> tuple[bool, str]:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception:  # as above
        logger.exception("health: the task broker did not answer")
        return False, "broker: unavailable"
    return True, "broker: ok"


def replicas_status() -> dict[str, str]:
    """Each read replica: "ok", "lagging" (out of rotation: too far behind) or "down" (out of
    rotation: did not answer). They do not decide the answer: the primary serves without them."""
    return {alias: replicas.status(alias, fresh=True) for alias in replicas.aliases()}


def count_engine_status(file_status: Callable[[int], str]) -> dict:
    """Which engine counts, and for the DuckDB one how many accounts' files are fresh (the next
    count comes from them), stale, missing or unreadable (counted in the database until rebuilt),
    `file_status(account_id)` telling which (segments.engines.store.status). Never decides the
    answer: the database counts without them. Per account only as totals: this page is public."""
    from django.conf import settings

    body: dict = {"engine": settings.COUNT_ENGINE}
    if settings.COUNT_ENGINE != "duckdb":
        return body
    from audience.models import Account

    totals: dict[str, int] = {}
    try:
        for account_id in Account.objects.order_by("pk").values_list("pk", flat=True)[:200]:
            found = file_status(account_id)
            totals[found] = totals.get(found, 0) + 1
    except Exception:  # the database check says what failed
        logger.exception("health: the count engine's files could not be listed")
        return {**body, "files": "unknown"}
    body["files"] = totals
    return body
