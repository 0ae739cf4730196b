"""The PostgreSQL fast paths of Do Not Contact (`dnc.services` chooses them): the blocked check
with one array parameter, or COPY into a temporary table and one hash join for many destinations;
a batch of adds in one statement. tests/dnc/test_postgres_paths.py holds each to the generic path."""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import islice
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from audience.models import Account
from dnc.models import DncAudit, DncEntry, DncEntryAccount

if TYPE_CHECKING:
    from dnc.services import DncAdd, DncAddReport, _Key


def blocked_values(account_id: int, channel: str, sender: str, values: list[str]) -> list[str]:
    """One array parameter: no statement with thousands of placeholders; index-only scan."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT value FROM {DncEntryAccount._meta.db_table} WHERE account_id = %s"
            " AND value = ANY(%s) AND channel IN ('', %s) AND sender IN ('', %s)",
            [account_id, values, channel, sender],
        )
        return [row[0] for row in cursor.fetchall()]


_copy_unsafe = re.compile(r"[\\\t\n\r]")


@transaction.atomic
def blocked_values_copy(account_id: int, channel: str, sender: str, values: Iterable[str]) -> list[str]:
    """PostgreSQL, many destinations: stream them into a temporary table with COPY and join once.
    Index probes per destination would cost more than one pass over the account's entries."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE dnc_check (value text) ON COMMIT DROP")
        with cursor.copy("COPY dnc_check (value) FROM STDIN") as copy:
            while chunk := list(islice(values, 50_000)):
                text = "\n".join(chunk)
                if _copy_unsafe.search(text.replace("\n", "")) or text.count("\n") != len(chunk) - 1:
                    # No entry holds a tab, a newline or a backslash: leave such values out.
                    text = "\n".join(value for value in chunk if not _copy_unsafe.search(value))
                copy.write(text + "\n")
        cursor.execute("ANALYZE dnc_check")
        # Both sides hashed in memory, not in 16 batches on disk; JIT costs more than it saves here.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            f"SELECT c.value FROM dnc_check c JOIN {DncEntryAccount._meta.db_table} e"
            " ON e.value = c.value WHERE e.account_id = %s AND e.channel IN ('', %s) AND e.sender IN ('', %s)",
            [account_id, channel, sender],
        )
        found = [row[0] for row in cursor.fetchall()]
        cursor.execute("DROP TABLE dnc_check")
        return found


ADD_SQL = """
WITH input AS (
    SELECT * FROM unnest(%(kinds)s::text[], %(values)s::text[], %(senders)s::text[], %(channels)s::text[])
        AS t(kind, value, sender, channel)
), inserted AS (
    INSERT INTO {entry} (kind, value, sender, channel, created_at)
    SELECT kind, value, sender, channel, %(now)s FROM input
    ON CONFLICT (value, sender, channel) DO NOTHING
    RETURNING id, kind, value, sender, channel
), entries AS (
    SELECT id, kind, value, sender, channel, true AS is_new FROM inserted
    UNION ALL
    -- LATERAL: one unique-index probe per input row, never a hash of the whole table.
    SELECT e.id, e.kind, e.value, e.sender, e.channel, false FROM input i
    CROSS JOIN LATERAL (
        SELECT id, kind, value, sender, channel FROM {entry} x
        WHERE x.value = i.value AND x.sender = i.sender AND x.channel = i.channel LIMIT 1
    ) e
), added AS (
    INSERT INTO {row} (entry_id, account_id, kind, value, sender, channel, source, campaign, added_at, added_by_id)
    SELECT e.id, a.id, e.kind, e.value, e.sender, e.channel, %(source)s, %(campaign)s, %(now)s, %(user)s
    FROM entries e CROSS JOIN unnest(%(accounts)s::bigint[]) AS a(id)
    ON CONFLICT (entry_id, account_id) DO NOTHING
    RETURNING entry_id, account_id, kind, value, sender, channel
), audited AS (
    INSERT INTO {audit} (action, at, account_id, account_name, entry_id_copy, kind, value, sender, channel,
                         source, campaign, how, user_id, username)
    SELECT 'add', %(now)s, a.account_id, acc.name, a.entry_id, a.kind, a.value, a.sender, a.channel,
           %(source)s, %(campaign)s, %(how)s, %(user)s, %(username)s
    FROM added a JOIN {account} acc ON acc.id = a.account_id
)
SELECT count(*),
       count(*) FILTER (WHERE e.is_new),
       count(*) FILTER (WHERE NOT e.is_new AND n.added IS NOT NULL)
FROM entries e LEFT JOIN (SELECT entry_id, count(*) AS added FROM added GROUP BY entry_id) n ON n.entry_id = e.id
"""


@transaction.atomic
def add_batch(keys: list[_Key], add: DncAdd, report: DncAddReport) -> bool:
    """The whole batch in one statement (insert entries, merge accounts, audit). False, with
    nothing written, when an entry added concurrently was not seen: the generic path then runs."""
    sql = ADD_SQL.format(
        entry=DncEntry._meta.db_table,
        row=DncEntryAccount._meta.db_table,
        audit=DncAudit._meta.db_table,
        account=Account._meta.db_table,
    )
    params: dict[str, Any] = {
        "kinds": [k.kind for k in keys],
        "values": [k.value for k in keys],
        "senders": [k.sender for k in keys],
        "channels": [k.channel for k in keys],
        "now": timezone.now(),
        "source": add.source,
        "campaign": add.campaign,
        "how": add.how,
        "accounts": [a.pk for a in add.accounts],
        "user": add.added_by.pk if add.added_by is not None else None,
        "username": add.added_by.get_username() if add.added_by is not None else "",
    }
    sid = transaction.savepoint()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        seen, created, merged = cursor.fetchone()
    if seen != len(keys):
        transaction.savepoint_rollback(sid)
        return False
    transaction.savepoint_commit(sid)
    report.created += created
    report.merged += merged
    report.unchanged += len(keys) - created - merged
    return True
