from django.db import migrations


def check_install(apps, schema_editor) -> None:
    from audience import summary

    summary.contact_check_install(schema_editor.connection)


def check_uninstall(apps, schema_editor) -> None:
    from audience import summary

    summary.contact_check_uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    """The database refuses a contact whose account is not its profile's (audience.summary), as it
    does for events: a rule on phones or emails alone is then counted from the contacts."""

    dependencies = [("audience", "0008_event_summary")]

    operations = [migrations.RunPython(check_install, check_uninstall)]
