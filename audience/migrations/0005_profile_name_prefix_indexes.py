"""Case-insensitive name prefix search (`istartswith`, i.e. UPPER(col) LIKE 'ABC%') on PostgreSQL.

Under a C.UTF-8 (non-"C") collation a plain btree can't serve LIKE prefixes, so the search box
and the name-prefix rules need `text_pattern_ops` indexes on the exact expressions the ORM emits
(see docs/performance.md). SQLite has no operator classes and needs nothing here.
"""

from __future__ import annotations

from django.db import migrations

INDEXES = {
    "profile_ulast_prefix": "upper((last_name)::text) text_pattern_ops",
    "profile_ufirst_prefix": "upper((first_name)::text) text_pattern_ops",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, expression in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON audience_profile (account_id, {expression})"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("audience", "0004_people_list_sort_indexes")]

    operations = [migrations.RunPython(create, drop)]
