"""Build the DuckDB count engine's file of every account, or of one (segments/engines/store.py),
here and now rather than in a worker; then say how fresh each file is. Works whatever
COUNT_ENGINE says, so a file can be built before the engine is switched on.

    .venv/bin/python manage.py counts_engine_build [--account NAME]
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audience.models import Account
from segments.engines import store


class Command(BaseCommand):
    help = "Build the DuckDB count engine's file of every account (or of --account NAME)."

    def add_arguments(self, parser):
        parser.add_argument("--account", default="", help="the account's name (default: every account)")

    def handle(self, *args, **options):
        accounts = Account.objects.order_by("pk")
        if options["account"]:
            accounts = accounts.filter(name=options["account"])
            if not accounts.exists():
                raise CommandError(f"No account is called {options['account']!r}.")
        for account in accounts:
            built = store.build(account.pk)
            if built is None:
                self.stdout.write(f"{account.name}: another build is running; skipped")
                continue
            rows = ", ".join(f"{table} {count:,}" for table, count in built.rows.items())
            self.stdout.write(
                f"{account.name}: built in {built.seconds:.1f} s ({rows}) → {built.path} "
                f"[{store.status(account.pk)}]"
            )
