import django.db.models.deletion
from django.db import migrations, models


def triggers_install(apps, schema_editor) -> None:
    from audience import summary

    summary.install(schema_editor.connection)


def triggers_uninstall(apps, schema_editor) -> None:
    from audience import summary

    summary.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("audience", "0007_drop_indexes_served_by_pattern_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="EventSummary",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "profile", "name", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                ("count", models.IntegerField()),
                ("first_at", models.DateTimeField()),
                ("last_at", models.DateTimeField()),
                (
                    "account",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="audience.account",
                    ),
                ),
                (
                    "profile",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="audience.profile",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["account", "name", "count"],
                        include=("profile", "first_at", "last_at"),
                        name="event_summary_count",
                    ),
                    models.Index(fields=["account", "name", "last_at"], include=("profile",), name="event_summary_last"),
                ],
            },
        ),
        # Triggers on the event table keep the summary; they fill it from the events already there.
        migrations.RunPython(triggers_install, triggers_uninstall),
    ]
