"""The PostgreSQL fast paths of the people target: owner look-ups with one array parameter
instead of thousands of IN parameters, new profiles by COPY into staging tables, rewrites by COPY
and one UPDATE … FROM. Each gives what the generic path of `classify` and `write` gives
(tests/imports/test_people_postgres.py)."""

from __future__ import annotations

import datetime as dt
import json

from django.db import connection

from audience.fields import PROFILE_FIELDS
from audience.models import Account, Contact, Profile
from imports.targets.people.parse import Record


class PostgresPaths:
    """`PeopleTarget`'s PostgreSQL paths."""

    account: Account
    type: str

    def _pg_contact_owners(self, kind: str, values: list[str]) -> dict[str, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT value, profile_id FROM {Contact._meta.db_table} "
                "WHERE account_id = %s AND kind = %s AND value = ANY(%s)",
                [self.account.pk, kind, values],
            )
            return dict(cursor.fetchall())

    def _pg_external_owners(self, values: list[str]) -> dict[str, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT external_id, id FROM {Profile._meta.db_table} "
                "WHERE account_id = %s AND external_id = ANY(%s) AND external_id <> ''",
                [self.account.pk, values],
            )
            return dict(cursor.fetchall())

    def _create_copy(self, records: list[Record], now: dt.datetime, only_new: bool = False) -> None:
        """PostgreSQL: ids from the sequence, COPY into temporary staging tables, then merge
        de-duplicated rows into the real tables. `only_new`: a contact already taken raises
        IntegrityError instead of being left out (no probe of the unique index before each
        insert, which ON CONFLICT makes)."""
        # External id and type come from the record and the job; the other standard fields from
        # the row's parsed fields, empty when it leaves one out.
        optional = [(f.name, f.empty) for f in PROFILE_FIELDS if f.name not in ("external_id", "type")]
        columns = [
            "id",
            "account_id",
            "external_id",
            "type",
            *[name for name, _ in optional],
            "company_id",
            "attributes",
            "created_at",
            "modified_at",
        ]
        profile_table, contact_table = Profile._meta.db_table, Contact._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS import_profile_stage (LIKE {profile_table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS import_contact_stage "
                "(row_no bigint, account_id bigint, profile_id bigint, kind varchar(8), value varchar(255), created_at timestamptz) "
                "ON COMMIT DELETE ROWS"
            )
            # ON COMMIT empties them; a chunk inside a longer transaction must not see the last one's rows.
            cursor.execute("TRUNCATE import_profile_stage, import_contact_stage")
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [profile_table, len(records)],
            )
            for record, (pk,) in zip(records, cursor.fetchall(), strict=True):
                record.profile_id = pk
            account_id = self.account.pk
            with cursor.cursor.copy(f"COPY import_profile_stage ({', '.join(columns)}) FROM STDIN") as copy:
                for r in records:
                    f = r.fields
                    copy.write_row(
                        (
                            r.profile_id,
                            account_id,
                            r.external_id,
                            self.type,
                            *[f.get(name, empty) for name, empty in optional],
                            self._company_id(r.company),
                            json.dumps({k: v for k, v in r.attributes.items() if v is not None})
                            if r.attributes
                            else "{}",
                            now,
                            now,
                        )
                    )
            with cursor.cursor.copy(
                "COPY import_contact_stage (row_no, account_id, profile_id, kind, value, created_at) FROM STDIN"
            ) as copy:
                for r in records:
                    for kind, values in (("phone", r.phones), ("email", r.emails)):
                        for value in values:
                            copy.write_row((r.row_no, account_id, r.profile_id, kind, value, now))
            cols = ", ".join(columns)
            cursor.execute(
                f"INSERT INTO {profile_table} ({cols}) SELECT DISTINCT ON (id) {cols} FROM import_profile_stage ORDER BY id"
            )
            cursor.execute(
                f"INSERT INTO {contact_table} (account_id, profile_id, kind, value, created_at) "
                "SELECT DISTINCT ON (kind, value) account_id, profile_id, kind, value, created_at "
                "FROM import_contact_stage ORDER BY kind, value, row_no"
                + ("" if only_new else " ON CONFLICT (account_id, kind, value) DO NOTHING")
            )

    def _update_copy(self, rows: list[dict], fields: list[str], now: dt.datetime) -> None:
        """PostgreSQL: the new values COPYed into a temporary table and written by one
        UPDATE … FROM (bulk_update builds a CASE per row and column in Python: slower per row)."""
        columns = [Profile._meta.get_field(name).column for name in fields]
        table = Profile._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS import_profile_update")
            cursor.execute(
                f"CREATE TEMP TABLE import_profile_update ON COMMIT DROP AS "
                f"SELECT {', '.join(['id', *columns])} FROM {table} WITH NO DATA"
            )
            with cursor.cursor.copy(
                f"COPY import_profile_update ({', '.join(['id', *columns])}) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(
                        [row["pk"]]
                        + [json.dumps(row[name]) if name == "attributes" else row[name] for name in fields]
                    )
            assignments = "".join(f"{column} = s.{column}, " for column in columns)
            cursor.execute(
                f"UPDATE {table} p SET {assignments}modified_at = %s "
                "FROM import_profile_update s WHERE p.id = s.id",
                [now],
            )
