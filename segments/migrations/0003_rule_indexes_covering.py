"""More PostgreSQL indexes for rule counts (SQLite needs none); measured in docs/rules.md.

- pg_trgm GIN on UPPER(first_name) / UPPER(last_name): `contains` compiles to
  `UPPER(first_name::text) LIKE UPPER('%ann%')`, which no btree serves (a full scan before).
- profile_rule_ucity / profile_rule_ucountry again, with `id` INCLUDEd: a city condition ANDed with
  an event or tag clause joins on profile.id, so without it every matching row was a heap visit.
- contact_rule_reverse again, with `value` INCLUDEd: `REVERSE(value) LIKE 'moc.duolci@%'` keeps the
  LIKE as a filter that reads `value`; with it in the index the scan is index-only.
- profile_rule_company (account_id, company_id): `company is_empty` (`company_id IS NULL`, ~70 %)
  index-only instead of a table scan.

Built CONCURRENTLY (atomic = False): a replaced index is built under a temporary name, the old
one dropped, the new one renamed, so rules never lose their index meanwhile.
"""

from __future__ import annotations

from django.db import migrations

TRIGRAM = {
    "profile_rule_trgm_first": "audience_profile USING gin (upper((first_name)::text) gin_trgm_ops)",
    "profile_rule_trgm_last": "audience_profile USING gin (upper((last_name)::text) gin_trgm_ops)",
}
NEW = {"profile_rule_company": "audience_profile (account_id, company_id)"}
REPLACED = {
    "profile_rule_ucity": (
        "audience_profile (account_id, upper((city)::text) text_pattern_ops) INCLUDE (city, id)",
        "audience_profile (account_id, upper((city)::text) text_pattern_ops) INCLUDE (city)",
    ),
    "profile_rule_ucountry": (
        "audience_profile (account_id, upper((country)::text) text_pattern_ops) INCLUDE (country, id)",
        "audience_profile (account_id, upper((country)::text) text_pattern_ops) INCLUDE (country)",
    ),
    "contact_rule_reverse": (
        "audience_contact (account_id, kind, reverse((value)::text) text_pattern_ops) INCLUDE (value, profile_id)",
        "audience_contact (account_id, kind, reverse((value)::text) text_pattern_ops) INCLUDE (profile_id)",
    ),
}


def _replace(schema_editor, name: str, target: str) -> None:
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}_new")
    schema_editor.execute(f"CREATE INDEX CONCURRENTLY {name}_new ON {target}")
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    schema_editor.execute(f"ALTER INDEX {name}_new RENAME TO {name}")


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, target in {**TRIGRAM, **NEW}.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {target}")
    for name, (target, _) in REPLACED.items():
        _replace(schema_editor, name, target)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in {**TRIGRAM, **NEW}:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    for name, (_, target) in REPLACED.items():
        _replace(schema_editor, name, target)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("segments", "0002_rule_indexes")]

    operations = [migrations.RunPython(create, drop)]
