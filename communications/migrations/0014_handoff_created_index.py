"""An index on HandOff.created_at for the hourly purge of old hand-off keys (one row an email sent:
the table holds HANDOFF_RETENTION_DAYS of sends, millions of rows). On PostgreSQL it is built
CONCURRENTLY (atomic = False), so a deploy does not lock the table the senders write to."""

from __future__ import annotations

from django.db import migrations, models

INDEX = models.Index(fields=["created_at"], name="handoff_created")


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS handoff_created ON communications_handoff (created_at)"
        )
    else:
        schema_editor.add_index(apps.get_model("communications", "HandOff"), INDEX)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS handoff_created")
    else:
        schema_editor.remove_index(apps.get_model("communications", "HandOff"), INDEX)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("communications", "0013_flowrun_due_by_step")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="handoff", index=INDEX)],
            database_operations=[migrations.RunPython(create, drop)],
        )
    ]
