"""PostgreSQL indexes for the rule engine's hot predicates (SQLite needs none; its path is the
same ORM query, tested in CI). Each index names the SQL it serves; see docs/rules.md, Performance.

- profile_rule_ucity / profile_rule_ucountry: `city is|in|starts_with X` compile to
  `UPPER(city::text) = UPPER('X')` / `LIKE 'X%'`; text_pattern_ops serves both under a non-C
  collation, and INCLUDE (city) lets the count be index-only (the planner can't rebuild the
  expression from the index otherwise).
- contact_rule_value: `phone|email starts_with|is X` compile to `value LIKE 'x%'` / `value = 'x'`
  on the normalised (lower-case, E.164) value, within (account, kind).
- contact_rule_reverse: `email ends_with '@example.com'` compiles to
  `REVERSE(value) LIKE 'moc.elpmaxe@%'`, a prefix on the reversed value.
- profile_rule_gender: `gender is X` (type is served by profile_sort_type).
"""

from __future__ import annotations

from django.db import migrations

INDEXES = {
    "profile_rule_ucity": "audience_profile (account_id, upper((city)::text) text_pattern_ops) INCLUDE (city)",
    "profile_rule_ucountry": "audience_profile (account_id, upper((country)::text) text_pattern_ops) INCLUDE (country)",
    "profile_rule_gender": "audience_profile (account_id, gender)",
    "contact_rule_value": "audience_contact (account_id, kind, value text_pattern_ops) INCLUDE (profile_id)",
    "contact_rule_reverse": "audience_contact (account_id, kind, reverse((value)::text) text_pattern_ops) INCLUDE (profile_id)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("segments", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
