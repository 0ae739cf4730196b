from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from audience import demo, demo_sql
from audience.models import Profile


class Command(BaseCommand):
    help = "Load realistic, reproducible demo data (profiles, contacts, companies, events) into one account."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--profiles", type=int, default=2000)
        parser.add_argument("--events-per-profile", type=int, default=10)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--account", default=demo.DEMO_ACCOUNT, help="account name (created if missing)")
        parser.add_argument(
            "--in-database",
            action="store_true",
            help="generate the rows inside PostgreSQL (audience/demo_sql.py): the 10M tier in well under "
            "an hour; same shape and value domains, other values",
        )
        parser.add_argument(
            "--workers", type=int, default=2, help="with --in-database: connections writing at once"
        )
        parser.add_argument(
            "--no-property-indexes",
            action="store_true",
            help="with --in-database: leave the event property indexes to `manage.py segments_indexes`",
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when the database already has profiles"
        )

    def handle(
        self,
        *args,
        profiles: int,
        events_per_profile: int,
        seed: int,
        account: str,
        if_empty: bool,
        in_database: bool,
        workers: int,
        no_property_indexes: bool,
        **options,
    ) -> None:
        if if_empty and Profile.objects.exists():
            self.stdout.write("Profiles exist already: demo data not loaded.")
            demo.demo_account_get_or_create()
            return
        started = time.monotonic()
        progress = lambda text: self.stdout.write(f"  {text}", ending="\n")  # noqa: E731
        if in_database:
            if connection.vendor != "postgresql":
                raise CommandError("--in-database needs PostgreSQL (DATABASE_URL).")
            report = demo_sql.seed(
                profiles=profiles,
                events_per_profile=events_per_profile,
                seed=seed,
                account_name=account,
                workers=workers,
                property_indexes=not no_property_indexes,
                progress=progress,
            )
        else:
            report = demo.seed_demo(
                profiles=profiles,
                events_per_profile=events_per_profile,
                seed=seed,
                account_name=account,
                progress=progress,
            )
        self.stdout.write(
            f"Loaded {report.profiles:,} profiles, {report.contacts:,} contacts, {report.events:,} events "
            f"and {report.companies:,} companies into {report.account.name!r} "
            f"in {time.monotonic() - started:.1f} s."
        )
        if account == demo.DEMO_ACCOUNT:
            self.stdout.write(f"Sign in as {demo.DEMO_USERNAME} / {demo.DEMO_PASSWORD}")
