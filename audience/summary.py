"""The event summary (EventSummary: one row per profile and event name) kept by database triggers.

Triggers rather than code in the write paths, because events arrive through the API, the admin,
seeding, cascades and raw SQL alike, and a summary that misses one write would make counts wrong
without anyone noticing. On PostgreSQL the triggers are statement-level with transition tables: a
batch of 5,000 events (or a COPY of millions) costs one grouped upsert, not one per row. SQLite
has only row-level triggers, which is plenty for the data it holds.

- insert and update first check that every event's account is its profile's account, and refuse
  the statement (an IntegrityError) when one is not: the schema can't say it with a foreign key,
  and counts rely on it — counting an account's events' distinct profiles, or its summary rows,
  is then counting that account's profiles, with no join to the profiles;
- insert: add the batch's counts; first_at/last_at widen (upsert on the primary key);
- delete and update: recompute the touched (profile, name) pairs from the events that remain.

Contacts get the same account check (`contact_check_install`, migration 0009), so that a rule on
phones or emails alone is counted from the matching contacts without joining the profiles.

On SQLite, altering the event or contact table rebuilds it and drops its triggers: a migration
that alters either must call `uninstall` / `install` (or the contact pair) again after it.

A bulk load may skip the summary triggers for its session (`SET audience.skip_event_summary = 'on'` on
PostgreSQL) and call `rebuild(account)` once at the end, as `seed_demo` does.
"""

from __future__ import annotations

from django.db import connection

from audience import counting
from audience.models import Account, Contact, Event, EventSummary, Profile

EVENTS = Event._meta.db_table
SUMMARY = EventSummary._meta.db_table
PROFILES = Profile._meta.db_table
COLUMNS = "account_id, profile_id, name, count, first_at, last_at"
# The summary row of a group of events (profile, name): what every trigger and `rebuild` insert.
AGGREGATE = "account_id, profile_id, name, count(*), min(occurred_at), max(occurred_at)"
SKIP_SETTING = "audience.skip_event_summary"


MISMATCH = "an {what}'s account must be its profile's account"


def account_check(rows: str, what: str = "event") -> str:
    """PL/pgSQL: refuse the statement when a row of `rows` (a transition table with account_id and
    profile_id) belongs to another account than its profile."""
    message = MISMATCH.format(what=what).replace("'", "''")
    return f"""
    IF EXISTS (SELECT 1 FROM {rows} e JOIN {PROFILES} p ON p.id = e.profile_id
               WHERE p.account_id IS DISTINCT FROM e.account_id) THEN
        RAISE EXCEPTION '{message}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;"""


def sqlite_account_check(table: str, operation: str, what: str = "event") -> str:
    """SQLite: the same as a BEFORE trigger of `table`, named audience_<what>_account_<operation>."""
    message = MISMATCH.format(what=what).replace("'", "''")
    return (
        f"CREATE TRIGGER audience_{what}_account_{operation} BEFORE {operation.upper()} ON {table} "
        f"WHEN new.account_id IS NOT (SELECT account_id FROM {PROFILES} WHERE id = new.profile_id) "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
    )


def _pg_recount(operation: str, pairs: str, check: str = "") -> str:
    """A trigger function that recomputes the (profile, name) pairs a statement touched."""
    return f"""
CREATE OR REPLACE FUNCTION audience_event_summary_{operation}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{check}
    IF current_setting('{SKIP_SETTING}', true) = 'on' THEN RETURN NULL; END IF;
    DELETE FROM {SUMMARY} s USING ({pairs}) p WHERE s.profile_id = p.profile_id AND s.name = p.name;
    INSERT INTO {SUMMARY} ({COLUMNS})
    SELECT {AGGREGATE} FROM {EVENTS} WHERE (profile_id, name) IN ({pairs})
    GROUP BY account_id, profile_id, name ORDER BY profile_id, name;
    RETURN NULL;
END $$;
"""


# Lock order: upserts take (profile_id, name) in order, so two batches touching the same pairs
# wait for each other instead of deadlocking.
_PG_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION audience_event_summary_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{account_check("new_rows")}
    IF current_setting('{SKIP_SETTING}', true) = 'on' THEN RETURN NULL; END IF;
    INSERT INTO {SUMMARY} AS s ({COLUMNS})
    SELECT {AGGREGATE} FROM new_rows GROUP BY account_id, profile_id, name ORDER BY profile_id, name
    ON CONFLICT (profile_id, name) DO UPDATE SET
        count = s.count + EXCLUDED.count,
        first_at = LEAST(s.first_at, EXCLUDED.first_at),
        last_at = GREATEST(s.last_at, EXCLUDED.last_at);
    RETURN NULL;
END $$;

{_pg_recount("delete", "SELECT DISTINCT profile_id, name FROM old_rows")}
{
    _pg_recount(
        "update",
        "SELECT profile_id, name FROM old_rows UNION SELECT profile_id, name FROM new_rows",
        account_check("new_rows"),
    )
}"""

_PG_TRIGGERS = f"""
CREATE TRIGGER audience_event_summary_insert AFTER INSERT ON {EVENTS}
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audience_event_summary_insert();
CREATE TRIGGER audience_event_summary_delete AFTER DELETE ON {EVENTS}
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audience_event_summary_delete();
CREATE TRIGGER audience_event_summary_update AFTER UPDATE ON {EVENTS}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audience_event_summary_update();
"""

_PG_DROP = f"""
DROP TRIGGER IF EXISTS audience_event_summary_insert ON {EVENTS};
DROP TRIGGER IF EXISTS audience_event_summary_delete ON {EVENTS};
DROP TRIGGER IF EXISTS audience_event_summary_update ON {EVENTS};
DROP FUNCTION IF EXISTS audience_event_summary_insert();
DROP FUNCTION IF EXISTS audience_event_summary_delete();
DROP FUNCTION IF EXISTS audience_event_summary_update();
"""


def _sqlite_recount(row: str) -> str:
    return (
        f"DELETE FROM {SUMMARY} WHERE profile_id = {row}.profile_id AND name = {row}.name; "
        f"INSERT INTO {SUMMARY} ({COLUMNS}) "
        f"SELECT {AGGREGATE} FROM {EVENTS} "
        f"WHERE profile_id = {row}.profile_id AND name = {row}.name GROUP BY account_id, profile_id, name;"
    )


_SQLITE_TRIGGERS = [
    sqlite_account_check(EVENTS, "insert"),
    sqlite_account_check(EVENTS, "update"),
    f"""CREATE TRIGGER audience_event_summary_insert AFTER INSERT ON {EVENTS} BEGIN
        INSERT INTO {SUMMARY} ({COLUMNS})
        VALUES (new.account_id, new.profile_id, new.name, 1, new.occurred_at, new.occurred_at)
        ON CONFLICT (profile_id, name) DO UPDATE SET
            count = count + 1,
            first_at = min(first_at, excluded.first_at),
            last_at = max(last_at, excluded.last_at);
    END""",
    f"CREATE TRIGGER audience_event_summary_delete AFTER DELETE ON {EVENTS} BEGIN {_sqlite_recount('old')} END",
    f"""CREATE TRIGGER audience_event_summary_update AFTER UPDATE ON {EVENTS} BEGIN
        {_sqlite_recount("old")} {_sqlite_recount("new")}
    END""",
]

_SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS audience_event_{name}"
    for name in ("account_insert", "account_update", "summary_insert", "summary_delete", "summary_update")
]


def install(schema_connection=connection) -> None:
    """Create the triggers (a migration calls this) and fill the summary from the events there."""
    mismatch_refuse(EVENTS, schema_connection)
    with schema_connection.cursor() as cursor:
        if schema_connection.vendor == "postgresql":
            cursor.execute(_PG_FUNCTIONS)
            cursor.execute(_PG_TRIGGERS)
        else:
            for statement in _SQLITE_TRIGGERS:
                cursor.execute(statement)
    rebuild(None, schema_connection)


def uninstall(schema_connection=connection) -> None:
    with schema_connection.cursor() as cursor:
        if schema_connection.vendor == "postgresql":
            cursor.execute(_PG_DROP)
        else:
            for statement in _SQLITE_DROP:
                cursor.execute(statement)


def rebuild(account: Account | None, schema_connection=connection) -> None:
    """Recompute the summary of one account (all accounts with None) from its events."""
    where, params = ("WHERE account_id = %s", [account.pk]) if account is not None else ("", [])
    with schema_connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {SUMMARY} {where}", params)
        cursor.execute(
            f"INSERT INTO {SUMMARY} ({COLUMNS}) "
            f"SELECT {AGGREGATE} FROM {EVENTS} {where} GROUP BY account_id, profile_id, name",
            params,
        )
    if account is not None:  # all accounts: a migration's, before anything was counted
        counting.data_changed(account_ids=[account.pk], using=schema_connection.alias)


def mismatched(table: str, schema_connection=connection) -> int:
    """Rows of `table` whose account is not their profile's (what the triggers refuse from now on)."""
    with schema_connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {table} e JOIN {PROFILES} p ON p.id = e.profile_id "
            f"WHERE p.account_id <> e.account_id"
        )
        return cursor.fetchone()[0]


def mismatch_refuse(table: str, schema_connection=connection) -> None:
    """For the migration that installs a check: stop, naming the rows to fix, while any exist."""
    if count := mismatched(table, schema_connection):
        raise RuntimeError(
            f"{count} rows of {table} belong to another account than their profile; fix or delete them "
            f"(SELECT e.id FROM {table} e JOIN {PROFILES} p ON p.id = e.profile_id "
            f"WHERE p.account_id <> e.account_id), then migrate again"
        )


def triggers_skipped(skip: bool) -> bool:
    """For a bulk load on PostgreSQL: this session's event writes leave the summary alone (the
    loader then calls rebuild); True when that took effect. SQLite, whose loads are small, keeps
    its triggers."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, false)", [SKIP_SETTING, "on" if skip else "off"])
    return True


# -- contacts ---------------------------------------------------------------------------------
# The same guarantee for contacts, so that a rule on phones or emails alone is counted as the
# matching contacts' distinct profiles, without probing the profiles (segments.selectors).
CONTACTS = Contact._meta.db_table

_PG_CONTACT_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audience_contact_account_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{account_check("new_rows", "contact")}
    RETURN NULL;
END $$;
"""
_PG_CONTACT_TRIGGERS = [
    f"CREATE TRIGGER audience_contact_account_{operation} AFTER {operation.upper()} ON {CONTACTS} "
    f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audience_contact_account_check()"
    for operation in ("insert", "update")
]


def contact_check_install(schema_connection=connection) -> None:
    mismatch_refuse(CONTACTS, schema_connection)
    with schema_connection.cursor() as cursor:
        if schema_connection.vendor == "postgresql":
            cursor.execute(_PG_CONTACT_FUNCTION)
            statements = _PG_CONTACT_TRIGGERS
        else:
            statements = [sqlite_account_check(CONTACTS, op, "contact") for op in ("insert", "update")]
        for statement in statements:
            cursor.execute(statement)


def contact_check_uninstall(schema_connection=connection) -> None:
    with schema_connection.cursor() as cursor:
        for operation in ("insert", "update"):
            suffix = f" ON {CONTACTS}" if schema_connection.vendor == "postgresql" else ""
            cursor.execute(f"DROP TRIGGER IF EXISTS audience_contact_account_{operation}{suffix}")
        if schema_connection.vendor == "postgresql":
            cursor.execute("DROP FUNCTION IF EXISTS audience_contact_account_check()")
