"""The per-account lock of imports, a PostgreSQL advisory lock: one import chunk of an account
is matched and written at a time (`account_writes_lock`, per chunk transaction), and an import
written over several connections holds it for its whole run (`account_writes_held`). SQLite
needs none: its transactions take the write lock when they begin."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from imports.models import ImportJob

# pg_advisory_xact_lock(IMPORT_LOCK, account id): one import chunk of an account at a time.
IMPORT_LOCK = 7201


def account_writes_lock(job: ImportJob) -> None:
    """Two imports of one account at once (the same file twice) must not both classify a row as
    new: each chunk matches and writes under a per-account lock held until it commits. SQLite
    needs none, its transactions take the write lock when they begin."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [IMPORT_LOCK, job.account_id])


WAITING_FOR_ACCOUNT = "Waiting for another import into this account to finish."


@contextmanager
def account_writes_held(job: ImportJob, held: bool) -> Iterator[None]:
    """The same per-account lock for the whole import, on this connection, while other
    connections write its chunks (`imports.streams`): another import of the account waits for
    this one to finish. The lock goes with the connection if the worker dies."""
    if not held:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [IMPORT_LOCK, job.account_id])
        if not cursor.fetchone()[0]:  # the progress shows why nothing moves
            ImportJob.objects.filter(pk=job.pk).update(message=WAITING_FOR_ACCOUNT)
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [IMPORT_LOCK, job.account_id])
            ImportJob.objects.filter(pk=job.pk, message=WAITING_FOR_ACCOUNT).update(message="")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [IMPORT_LOCK, job.account_id])
