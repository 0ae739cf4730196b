"""PostgreSQL only: a trigram index for the screen's "contact information contains" filter, so
it stays fast at 1,000,000 entries. SQLite scans (fine at the sizes it is meant for)."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS dnc_value_trgm ON dnc_dncentryaccount USING gin (value gin_trgm_ops)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS dnc_value_trgm")


class Migration(migrations.Migration):
    dependencies = [("dnc", "0002_audit_index")]
    operations = [migrations.RunPython(forwards, backwards)]
