"""Measure the Do Not Contact check: N destinations against N entries.

Run it in a throwaway database, never in production:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/audience_dnc_bench ./manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/audience_dnc_bench .venv/bin/python -m benchmarks dnc_bench
"""

from __future__ import annotations

import random
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from audience import services as audience_services
from audience.models import Account
from dnc import services
from dnc.models import DncEntryAccount, How, Source

BENCH_ACCOUNT = "DNC bench"


def _number(n: int) -> str:
    # Valid Croatian mobile numbers: +385 9[1-8] and 7 digits.
    return f"+3859{1 + n // 10_000_000}{n % 10_000_000:07d}"


class Command(BaseCommand):
    help = "Time dnc_blocked_destinations for N destinations against N entries (throwaway DB only)."

    def add_arguments(self, parser):
        parser.add_argument("--entries", type=int, default=1_000_000)
        parser.add_argument("--destinations", type=int, default=1_000_000)
        parser.add_argument("--other-forms", type=float, default=0.01, help="share not in E.164 form")

    def handle(self, *args, entries: int, destinations: int, other_forms: float, **options):
        if "bench" not in connection.settings_dict["NAME"]:
            raise CommandError("Run this against a throwaway database whose name contains 'bench'.")
        account = Account.objects.filter(name=BENCH_ACCOUNT).first() or audience_services.account_create(
            name=BENCH_ACCOUNT
        )
        have = DncEntryAccount.objects.filter(account=account).count()
        if have < entries:
            rng = range(have * 2, entries * 2, 2)  # every other number is on the list
            started = time.perf_counter()
            report = services.dnc_entries_add(
                accounts=[account],
                entries=({"contact": _number(n)} for n in rng),
                source=Source.IMPORT,
                how=How.IMPORT,
            )
            elapsed = time.perf_counter() - started
            self.stdout.write(
                f"added {report.created:,} entries through dnc_entries_add in {elapsed:.1f} s "
                f"({elapsed / max(report.created, 1) * 1e6:.0f} µs an entry)"
            )
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE dnc_dncentryaccount")
        rnd = random.Random(6)
        wanted = []
        for _ in range(destinations):
            number = _number(rnd.randrange(entries * 2))
            if rnd.random() < other_forms:
                number = "00" + number[1:4] + " " + number[4:6] + " " + number[6:]
            wanted.append(number)
        for run in (1, 2):
            started = time.perf_counter()
            blocked = services.dnc_blocked_destinations(
                account=account, channel="SMS", sender="64350", destinations=wanted
            )
            elapsed = time.perf_counter() - started
            self.stdout.write(
                f"run {run}: {len(wanted):,} destinations ({other_forms:.0%} not in E.164 form) against "
                f"{entries:,} entries: {len(blocked):,} blocked in {elapsed:.2f} s "
                f"({elapsed / len(wanted) * 1e6:.1f} µs a destination) on {connection.vendor}"
            )
