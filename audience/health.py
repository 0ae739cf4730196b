"""The health check: can this process reach the database and the task broker?"""

from __future__ import annotations

from django.db import connection

from audience.celery import app as celery_app


def database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any failure means "not healthy"; the message says which
        return False, f"database: {error.__class__.__name__}: {error}"
    return True, "database: ok"


def broker_ok() -> tuple[bool, str]:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:  # as above
        return False, f"broker: {error.__class__.__name__}: {error}"
    return True, "broker: ok"
