"""(Re)create the custom attribute indexes of every AttributeDefinition and the property indexes of
every EventDefinition (PostgreSQL only) and drop those of deleted definitions; see segments/indexes.py. Run after a restore, or when the Celery
worker was down when attributes were created. Run VACUUM ANALYZE afterwards on a big table.

    .venv/bin/python manage.py segments_indexes [--rebuild]
"""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import connection

from segments import indexes


class Command(BaseCommand):
    help = (
        "Create missing custom attribute and event property indexes (all again with --rebuild); drop orphans."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="drop and create every index again")

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            self.stdout.write("Not PostgreSQL: custom attributes need no indexes here.")
            return
        created, dropped = indexes.attribute_indexes_sync(rebuild=options["rebuild"])
        self.stdout.write(f"custom attributes: {created} created, {dropped} dropped")
        created, dropped = indexes.property_indexes_sync(rebuild=options["rebuild"])
        self.stdout.write(f"event properties: {created} created, {dropped} dropped")
