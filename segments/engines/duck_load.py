"""Copying one account's rows into DuckDB: the tables `segments.engines.duck_sql` reads.

On PostgreSQL each table is one `COPY (SELECT … WHERE account_id = %s) TO STDOUT (FORMAT csv)`
streamed into a temporary file that DuckDB reads with `read_csv` and explicit column types (no
Python per row); on any other database (SQLite, the embedded default) the same file is written
from the ORM's rows in batches. Timestamps are stored as plain `TIMESTAMP`s in UTC; JSON
(custom attributes, event properties) as its text, which `duck_sql.prepare` turns into typed
columns. All tables are read in one transaction, REPEATABLE READ on PostgreSQL when it is ours
to open, so the copy is one snapshot of the account.

Tables (DuckDB):
  profiles(id, <standard fields>, company_id, attributes, created_at, modified_at)
  contacts(profile_id, kind, value)          companies(id, name)
  profile_tags(profile_id, tag)              dnc_entries(kind, value, channel)
  events(profile_id, name, occurred_at, properties)
  json_keys(source, key, type, event)  the custom attributes ("attributes") and event properties
                                 ("properties", of `event`) the account defines, with their types
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connections, transaction

from audience.fields import FIELD_NAMES

BATCH = 10_000


@dataclass(frozen=True)
class Table:
    """One DuckDB table: its columns as (name, DuckDB type, the source's SQL expression), the
    source's FROM … WHERE with one `%s` for the account id, and its ORM form for other databases."""

    name: str
    columns: tuple[tuple[str, str, str], ...]
    source: str  # FROM … WHERE …%s (PostgreSQL)
    order: str = ""  # DuckDB ORDER BY for the stored rows (zone maps prune what is sorted)

    def select(self) -> str:
        return "SELECT " + ", ".join(expr for _, _, expr in self.columns) + " " + self.source


def _tables() -> tuple[Table, ...]:
    from audience.models import Company, Contact, Event, Profile
    from dnc.models import DncEntryAccount
    from tags.models import ProfileTag, Tag

    def utc(column: str) -> str:
        return f"({column} AT TIME ZONE 'UTC')"

    profile_text = tuple((name, "VARCHAR", name) for name in FIELD_NAMES if name != "birth_date")
    return (
        Table(
            "profiles",
            (
                ("id", "BIGINT", "id"),
                *profile_text,
                ("birth_date", "DATE", "birth_date"),
                ("company_id", "BIGINT", "company_id"),
                ("attributes", "VARCHAR", "attributes::text"),
                ("created_at", "TIMESTAMP", utc("created_at")),
                ("modified_at", "TIMESTAMP", utc("modified_at")),
            ),
            f"FROM {Profile._meta.db_table} WHERE account_id = %s",
        ),
        Table(
            "contacts",
            (
                ("profile_id", "BIGINT", "profile_id"),
                ("kind", "VARCHAR", "kind"),
                ("value", "VARCHAR", "value"),
            ),
            f"FROM {Contact._meta.db_table} WHERE account_id = %s",
            order="kind, value",
        ),
        Table(
            "companies",
            (("id", "BIGINT", "id"), ("name", "VARCHAR", "name")),
            f"FROM {Company._meta.db_table} WHERE account_id = %s",
        ),
        Table(
            "profile_tags",
            (("profile_id", "BIGINT", "link.profile_id"), ("tag", "VARCHAR", "tag.name")),
            f"FROM {ProfileTag._meta.db_table} link JOIN {Tag._meta.db_table} tag ON tag.id = link.tag_id"
            " WHERE link.account_id = %s",
        ),
        Table(
            "dnc_entries",
            (("kind", "VARCHAR", "kind"), ("value", "VARCHAR", "value"), ("channel", "VARCHAR", "channel")),
            f"FROM {DncEntryAccount._meta.db_table} WHERE account_id = %s",
        ),
        Table(
            "events",
            (
                ("profile_id", "BIGINT", "profile_id"),
                ("name", "VARCHAR", "name"),
                ("occurred_at", "TIMESTAMP", utc("occurred_at")),
                ("properties", "VARCHAR", "properties::text"),
            ),
            f"FROM {Event._meta.db_table} WHERE account_id = %s",
        ),
    )


def _orm_rows(table: Table, account_id: int, using: str) -> Iterable[tuple]:
    """The table's rows through the ORM (any database), in the columns' order."""
    from audience.models import Company, Contact, Event, Profile
    from dnc.models import DncEntryAccount
    from tags.models import ProfileTag

    columns = [name for name, _, _ in table.columns]
    querysets = {
        "profiles": (Profile, columns),
        "contacts": (Contact, columns),
        "companies": (Company, columns),
        "profile_tags": (ProfileTag, ["profile_id", "tag__name"]),
        "dnc_entries": (DncEntryAccount, columns),
        "events": (Event, columns),
    }
    model, fields = querysets[table.name]
    rows = model.objects.using(using).filter(account_id=account_id).order_by().values_list(*fields)
    return rows.iterator(chunk_size=BATCH)


def _csv_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _write_csv(table: Table, account_id: int, using: str, path: str) -> None:
    connection = connections[using]
    if connection.vendor == "postgresql":
        # psycopg binds the account id on the client side (COPY takes no server parameters).
        copy_sql = f"COPY ({table.select()}) TO STDOUT (FORMAT csv)"
        with (
            open(path, "wb") as out,
            connection.cursor() as cursor,
            cursor.cursor.copy(copy_sql, (account_id,)) as copy,
        ):
            for data in copy:
                out.write(data)
        return
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        batch: list[list] = []
        for row in _orm_rows(table, account_id, using):
            batch.append([_csv_value(v) for v in row])
            if len(batch) >= BATCH:
                writer.writerows(batch)
                batch.clear()
        writer.writerows(batch)


def _read_csv(con, table: Table, path: str) -> int:
    types = {name: type_ for name, type_, _ in table.columns}
    # Empty text and NULL both arrive as an empty field from Python's csv writer: text columns
    # are never NULL in the source (empty text is "", see audience.models.Profile), so read both as "".
    select = ", ".join(
        f"coalesce({name}, '') AS {name}" if type_ == "VARCHAR" else name for name, type_ in types.items()
    )
    order = f" ORDER BY {table.order}" if table.order else ""
    columns = "{" + ", ".join(f"'{name}': '{type_}'" for name, type_ in types.items()) + "}"
    con.execute(
        f"CREATE OR REPLACE TABLE {table.name} AS SELECT {select} FROM read_csv(?, columns = {columns},"
        " header = false, delim = ',', quote = '\"', escape = '\"', auto_detect = false,"
        f" allow_quoted_nulls = false){order}",
        [path],
    )
    return con.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0]


def _definitions(con, account_id: int, using: str) -> int:
    """The account's attribute and event property definitions, so that `duck_sql.prepare` makes
    typed columns of exactly the keys a rule can name, without reading every JSON document."""
    from audience.models import AttributeDefinition, EventDefinition

    rows = {
        ("attributes", name, type_, "")
        for name, type_ in AttributeDefinition.objects.using(using)
        .filter(account_id=account_id)
        .values_list("name", "type")
    }
    for event, properties in (
        EventDefinition.objects.using(using).filter(account_id=account_id).values_list("name", "properties")
    ):
        rows |= {("properties", name, str(type_), event) for name, type_ in (properties or {}).items()}
    con.execute(
        "CREATE OR REPLACE TABLE json_keys (source VARCHAR, key VARCHAR, type VARCHAR, event VARCHAR)"
    )
    if rows:
        con.executemany("INSERT INTO json_keys VALUES (?, ?, ?, ?)", sorted(rows))
    return len(rows)


def load_account(con, account_id: int, *, using: str = "default") -> dict[str, int]:
    """Create (or replace) in the DuckDB connection `con` the tables the DuckDB compiler reads,
    holding one account's rows read from the Django database `using`; return row counts per table.
    Run `duck_sql.prepare(con)` after it."""
    connection = connections[using]
    counts: dict[str, int] = {}
    # A transaction of our own reads every table in one snapshot; inside the caller's, its snapshot.
    outermost = not connection.in_atomic_block
    with tempfile.TemporaryDirectory(prefix="duck-load-") as folder, transaction.atomic(using=using):
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        paths = {}
        for table in _tables():
            paths[table.name] = os.path.join(folder, f"{table.name}.csv")
            _write_csv(table, account_id, using, paths[table.name])
        con.execute("SET enable_progress_bar = false")  # a worker's log is no terminal
        con.execute("BEGIN TRANSACTION")
        try:
            for table in _tables():
                counts[table.name] = _read_csv(con, table, paths[table.name])
                os.unlink(paths[table.name])
            counts["json_keys"] = _definitions(con, account_id, using)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return counts
