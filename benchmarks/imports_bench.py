"""`python -m benchmarks imports_bench`: generate a 15 MB Do Not Contact CSV (~300,000 rows) and 100,000
people rows as .xlsx, import both through the pipeline into a fresh account, export the people to
CSV, and print the time of each step. Run it against PostgreSQL for the figures in docs/imports.md."""

from __future__ import annotations

import csv
import os
import random
import tempfile
import time

from django.core.management.base import BaseCommand

from audience import services as audience_services
from imports import exports, services


def _proc_stat(pid: int | str) -> list[str]:
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()  # fields from the state (3rd) on


def backend_cpu() -> float:
    """CPU seconds used so far by the PostgreSQL server's processes — this connection's backend,
    the other connections' (an import's streams), those that have exited (counted in their
    parent's) and the server's own helpers — when the server runs on this machine and /proc is
    readable, else 0: wall clock on a shared machine says little."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        postmaster = _proc_stat(pid)[1]
        fields = _proc_stat(postmaster)
        ticks = sum(int(f) for f in fields[11:15])  # its own CPU and that of its exited children
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    child = _proc_stat(entry)
                except OSError:
                    continue
                if child[1] == postmaster:
                    ticks += int(child[11]) + int(child[12])
    except OSError:
        return 0.0
    return ticks / os.sysconf("SC_CLK_TCK")


class Command(BaseCommand):
    help = "Measure imports and exports on generated files."

    def add_arguments(self, parser):
        parser.add_argument("--dnc-rows", type=int, default=300_000)
        parser.add_argument("--people-rows", type=int, default=100_000)
        parser.add_argument("--account", default=f"Bench {int(time.time())}")

    def handle(self, *args, **options):
        account, user, _ = audience_services.account_create_with_admin(
            name=options["account"], username=f"bench-{int(time.time())}"
        )
        rng = random.Random(7)
        with tempfile.TemporaryDirectory() as folder:
            if options["dnc_rows"]:
                path = os.path.join(folder, "dnc.csv")
                self._dnc_file(path, options["dnc_rows"], rng)
                self._import(path, "dnc", account, user)
            if options["people_rows"]:
                path = os.path.join(folder, "people.xlsx")
                started = time.perf_counter()
                self._people_file(path, options["people_rows"], rng)
                self.stdout.write(f"  (writing the .xlsx took {time.perf_counter() - started:.1f} s)")
                self._import(path, "people", account, user)
                self._export(account, user)

    def _dnc_file(self, path: str, rows: int, rng: random.Random) -> None:
        """~48 bytes a row like a real export (contact, sender, channel, a comment with why and
        when): 300,000 rows make ~14.5 MB, under the 15 MB upload limit. One row in ten is an
        email address; numbers with the 97 prefix (a quarter of the phones) are not valid Croatian
        numbers and are rejected on purpose, so the analysis's refusal path is measured too."""
        reasons = ["unsubscribed", "replied STOP", "by phone", "complaint"]
        invalid = 0
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["Contact", "Sender", "Channel", "Comment"])
            for i in range(rows):
                comment = f"{rng.choice(reasons)} 2026-{1 + i % 12:02d}-{1 + i % 28:02d}"
                if i % 10 == 0:
                    writer.writerow([f"user{i}@example{i % 97}.com", "", "EMAIL", comment])
                    continue
                prefix = rng.choice("1578")
                invalid += prefix == "7"
                writer.writerow(
                    [
                        f"+385 9{prefix} {rng.randrange(1000000, 9999999)}",
                        rng.choice(["", "InfoSMS", "Shop"]),
                        rng.choice(["SMS", "", "WHATSAPP"]),
                        comment,
                    ]
                )
        self.stdout.write(
            f"DNC file: {rows:,} rows, {os.path.getsize(path) / 1e6:.1f} MB "
            f"({invalid:,} of them +385 97… numbers, invalid on purpose: 97 is not a Croatian prefix)"
        )

    def _people_file(self, path: str, rows: int, rng: random.Random) -> None:
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("People")
        sheet.append(["External id", "First name", "Last name", "Phone", "Email", "City", "Country"])
        cities = ["Zagreb", "Split", "Rijeka", "Osijek", "Pula"]
        for i in range(rows):
            sheet.append(
                [
                    f"X{i}",
                    f"First{i}",
                    f"Last{i}",
                    f"+38591{1000000 + i}",
                    f"person{i}@example.com",
                    rng.choice(cities),
                    "Croatia",
                ]
            )
        workbook.save(path)
        self.stdout.write(f"People file: {rows:,} rows, {os.path.getsize(path) / 1e6:.1f} MB")

    def _import(self, path: str, kind: str, account, user) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        db_started = backend_cpu()
        with open(path, "rb") as stream:
            job = services.import_job_create(
                account=account,
                user=user,
                kind=kind,
                name=os.path.basename(path),
                stream=stream,
                size=os.path.getsize(path),
            )
        services.import_job_map(job=job, fields=job.mapping, analyze=False)
        uploaded, cpu_uploaded, db_uploaded = time.perf_counter(), time.process_time(), backend_cpu()
        job = services.import_job_analyze(job_id=job.pk)
        analyzed, cpu_analyzed, db_analyzed = time.perf_counter(), time.process_time(), backend_cpu()
        services.import_job_start(job=job, user=user, options={"accounts": [account.pk]}, run=False)
        job = services.import_job_run(job_id=job.pk)
        done, cpu_done, db_done = time.perf_counter(), time.process_time(), backend_cpu()
        job.refresh_from_db()
        self.stdout.write(
            f"{kind} import: upload+checks {uploaded - started:.1f} s, analyze {analyzed - uploaded:.1f} s, "
            f"import {done - analyzed:.1f} s, total {done - started:.1f} s — {services.import_report_line(job)}\n"
            f"  (CPU of this process: upload {cpu_uploaded - cpu:.1f} s, analyze {cpu_analyzed - cpu_uploaded:.1f} s, "
            f"import {cpu_done - cpu_analyzed:.1f} s; of PostgreSQL: upload {db_uploaded - db_started:.1f} s, "
            f"analyze {db_analyzed - db_uploaded:.1f} s, import {db_done - db_analyzed:.1f} s; "
            f"load average {os.getloadavg()[0]:.1f})"
        )

    def _export(self, account, user) -> None:
        from imports.models import ExportJob

        job = ExportJob.objects.create(
            account=account,
            created_by=user,
            kind="people",
            format="csv",
            selection={"ids": None, "filters": {}},
        )
        started, cpu, db = time.perf_counter(), time.process_time(), backend_cpu()
        exports.export_job_run(job_id=job.pk)
        elapsed, cpu, db = time.perf_counter() - started, time.process_time() - cpu, backend_cpu() - db
        job.refresh_from_db()
        self.stdout.write(
            f"people export to CSV: {job.processed:,} rows in {elapsed:.2f} s = {job.processed / elapsed:,.0f} rows/s "
            f"(CPU of this process {cpu:.2f} s, of PostgreSQL {db:.2f} s)"
        )
