"""The sections `bin/bench.py` measures. Each returns rows: name, median, p95, reference, ratio."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test import Client

from audience import services as audience_services
from audience.models import Profile, Role

BENCH_USER = "bench-admin"
SECTIONS: list[tuple[str, Callable]] = []


def timed(fn: Callable[[], object], repeat: int) -> dict:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, max(0, round(0.95 * len(samples)) - 1))]
    return {"median_ms": round(statistics.median(samples), 2), "p95_ms": round(p95, 2), "runs": repeat}


def sql_ms(sql: str, params: list, repeat: int) -> dict:
    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()

    return timed(run, repeat)


def section(name: str):
    def register(fn: Callable) -> Callable:
        SECTIONS.append((name, fn))
        return fn

    return register


def _client(account) -> tuple[Client, object]:
    user, _ = get_user_model().objects.get_or_create(username=BENCH_USER)
    audience_services.membership_set(account=account, user=user, role=Role.ADMIN)
    client = Client()
    client.force_login(user)
    client.post(f"/accounts/{account.pk}/switch/")
    return client, user


def _row(name: str, figure: dict, reference: dict | None = None, unit: str = "ms") -> dict:
    row = {
        "name": name,
        "median": f"{figure['median_ms']:.1f} {unit}",
        "p95": f"{figure['p95_ms']:.1f} {unit}",
    }
    if reference:
        row["reference"] = f"{reference['median_ms']:.1f} ms"
        row["ratio"] = f"{figure['median_ms'] / max(reference['median_ms'], 0.01):.1f}×"
    return row


def _reference_count(account, repeat: int) -> dict:
    return sql_ms("SELECT count(*) FROM audience_profile WHERE account_id = %s", [account.pk], repeat)


# Options of the counts section (bin/bench.py --seed / --rules): the generator's seed (None: a
# new one each run) and how many rules it draws.
COUNTS_OPTIONS: dict = {"seed": None, "rules": 200, "engine": "orm"}


@section("counts")
def counts(*, account, repeat: int, profiles: int) -> list[dict]:
    """Cold counts of rules drawn from the whole rule language (benchmarks/counts_bench.py: median,
    p95 and max, a sample checked against a second evaluation), then the fixed suite through the
    real count view (the editor's htmx endpoint), cold and cached."""
    import json

    from benchmarks.counts_bench import generated_counts
    from benchmarks.segments_bench import SUITE

    seed = COUNTS_OPTIONS["seed"]
    if seed is None:
        seed = random.SystemRandom().randrange(10**9)
    print(f"    generator seed {seed}")
    run = generated_counts(account, seed=seed, rules=COUNTS_OPTIONS["rules"], engine=COUNTS_OPTIONS["engine"])
    figures = run["figures"]
    for row in sorted(run["results"], key=lambda r: -r["ms"])[:5]:
        print(f"    slow: {row['ms']} ms {json.dumps(row['rule'], default=str)}")
    client, _ = _client(account)
    reference = _reference_count(account, repeat)
    rows = [
        {
            "name": "reference: SELECT count(*) of the account's profiles",
            "median": f"{reference['median_ms']:.1f} ms",
            "p95": f"{reference['p95_ms']:.1f} ms",
        },
    ]
    if figures["build"]:
        rows.append(
            {
                "name": "DuckDB count engine: the account's file built",
                "median": f"{figures['build']['seconds']} s",
            }
        )
    compared = (
        f"; every rule counted by both engines, {len(figures['engine_mismatches'])} mismatches"
        if len(figures["engines"]) > 1
        else ""
    )
    for name, e in figures["engines"].items():
        rows.append(
            {
                "name": (
                    f"generated rules ({name}), seed {seed}: {figures['rules']} rules once each, cold; max "
                    f"{e['max_ms']:.1f} ms, {e['timeouts']} timeouts; {figures['checked']} checked "
                    f"against a second evaluation, {len(figures['mismatches'])} mismatches{compared}"
                ),
                "median": f"{e['median_ms']:.1f} ms",
                "p95": f"{e['p95_ms']:.1f} ms",
                "reference": f"{figures['reference_ms']:.1f} ms",
                "ratio": f"{e['ratio']:.1f}×",
            }
        )
    for kind in ("mismatches", "engine_mismatches"):
        if figures[kind]:
            rows.append(
                {"name": "error", "median": f"{kind}: {json.dumps(figures[kind], default=str)[:2000]}"}
            )
    for family, name, rule, _has_events in SUITE:
        body = {"rule": json.dumps(rule)}

        def cold(body=body):
            cache.clear()
            response = client.post("/segments/count/", body, HTTP_HX_REQUEST="true")
            assert response.status_code == 200, response.status_code

        def warm(body=body):
            client.post("/segments/count/", body, HTTP_HX_REQUEST="true")

        cold()  # plans and buffers warm, as a marketer editing rules would see
        rows.append(_row(f"{family}: {name} (cold)", timed(cold, repeat), reference))
        rows.append(_row(f"{family}: {name} (cached)", timed(warm, repeat), reference))
    return rows


@section("people")
def people(*, account, repeat: int, profiles: int) -> list[dict]:
    from segments import services as segment_services
    from segments.models import Segment

    client, user = _client(account)
    reference = _reference_count(account, repeat)
    rows = []
    pages = {
        "People list, first page": "/people/",
        "People list, filtered (country, gender)": "/people/?country=Germany&gender=female",
        "People list, sorted by last name": "/people/?sort=name",
        "People summary count, filtered (htmx)": "/people/count/?country=Germany&gender=female",
        "People summary count, all (htmx)": "/people/count/",
    }
    for name, url in pages.items():

        def get(url=url):
            if "count" in url:
                cache.clear()
            assert client.get(url, HTTP_HX_REQUEST="true" if "count" in url else "").status_code == 200

        get()
        rows.append(_row(name, timed(get, repeat), reference))
    segment = Segment.objects.for_account(account).filter(name="Bench London buyers").first()
    if segment is None:
        segment = segment_services.segment_create(
            account=account,
            name="Bench London buyers",
            rule={
                "version": 1,
                "attributes": {
                    "match": "all",
                    "conditions": [{"attribute": "city", "operator": "is", "value": "London"}],
                },
                "events": [{"event": "Purchase", "performed": True}],
            },
            user=user,
        )

    def segment_page():
        assert client.get(f"/segments/{segment.pk}/").status_code == 200

    segment_page()
    rows.append(_row("One page of a segment's profiles", timed(segment_page, repeat), reference))
    return rows


def _in_child(fn):
    """Run fn in a forked child; (seconds, peak RSS in MB, result) — the child's own peak memory."""
    read, write = os.pipe()
    connection.close()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        started = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - started
        os.write(write, f"{elapsed}\t{result}".encode())
        os._exit(0)
    os.close(write)
    _, status, usage = os.wait4(pid, 0)
    data = os.read(read, 4096).decode()
    os.close(read)
    if status != 0 or not data:
        raise RuntimeError("the measured child process failed")
    elapsed, result = data.split("\t", 1)
    return float(elapsed), usage.ru_maxrss / 1024, result


def _copy_in_reference(path: str, columns: str, table_sql: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute(table_sql)
        started = time.perf_counter()
        with (
            open(path, "rb") as handle,
            cursor.cursor.copy(
                f"COPY bench_ref ({columns}) FROM STDIN WITH (FORMAT csv, HEADER true)"
            ) as copy,
        ):
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_ref")
    return elapsed


def _xlsx_to_csv(source: str, target: str) -> int:
    """Write the first sheet of an .xlsx as CSV; returns the number of columns."""
    import csv

    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(source).get_sheet_by_index(0).to_python()
    with open(target, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return len(rows[0])


HEAVY_REPEAT = 3  # imports and exports take seconds to minutes each: three runs, median and worst


def _heavy_row(
    name: str, seconds: list[float], peaks: list[float], count: int, reference: float | None, label: str
) -> dict:
    """A row for runs measured in seconds: median and p95 (the worst of three) with rows/s, the
    highest peak memory, and the ratio to a raw COPY of the same rows."""
    median = statistics.median(seconds)
    return {
        "name": name,
        "median": f"{median:.1f} s ({count / median:,.0f} rows/s), peak {max(peaks):.0f} MB",
        "p95": f"{max(seconds):.1f} s" if len(seconds) > 1 else "single run",
        "runs": len(seconds),
        "reference": f"{label} {reference:.2f} s" if reference else "",
        "ratio": f"{median / reference:.0f}×" if reference else "",
    }


def _forget_dnc_entries() -> None:
    """Take earlier bench imports' Do Not Contact entries out again, so that every run creates the
    same entries (they are global: a later run would otherwise only add an account to each)."""
    from dnc.models import DncEntry, DncEntryAccount

    DncEntryAccount.objects.filter(account__name__startswith="Bench imports").delete()
    DncEntry.objects.filter(memberships__isnull=True).delete()
    if connection.vendor == "postgresql":
        # What autovacuum does soon after a delete this size (untimed): otherwise the next run
        # inserts into tables and indexes holding the previous runs' dead rows, which a list
        # filled once and kept does not have.
        with connection.cursor() as cursor:
            for model in (DncEntryAccount, DncEntry):
                cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")


@section("imports")
def imports(*, account, repeat: int, profiles: int) -> list[dict]:
    from benchmarks.imports_bench import Command
    from imports import services

    scale = 1 if profiles >= 1_000_000 else 0.05
    dnc_rows, people_rows = int(300_000 * scale), int(100_000 * scale)
    runs = min(repeat, HEAVY_REPEAT)
    command = Command(stdout=io.StringIO())
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        dnc_path = os.path.join(folder, "dnc.csv")
        command._dnc_file(dnc_path, dnc_rows, random.Random(7))
        people_path = os.path.join(folder, "people.xlsx")
        command._people_file(people_path, people_rows, random.Random(7))
        for kind, path, count in (("dnc", dnc_path, dnc_rows), ("people", people_path, people_rows)):
            seconds, peaks, report = [], [], ""
            for run_number in range(runs):
                if kind == "dnc":
                    _forget_dnc_entries()
                stamp = f"{int(time.time())}-{run_number}"
                target, user, _ = audience_services.account_create_with_admin(
                    name=f"Bench imports {kind} {stamp}", username=f"bench-imports-{kind}-{stamp}"
                )

                def run(kind=kind, path=path, target=target, user=user):
                    with open(path, "rb") as stream:
                        job = services.import_job_create(
                            account=target,
                            user=user,
                            kind=kind,
                            name=os.path.basename(path),
                            stream=stream,
                            size=os.path.getsize(path),
                        )
                    services.import_job_map(job=job, fields=job.mapping, analyze=False)
                    job = services.import_job_analyze(job_id=job.pk)
                    services.import_job_start(
                        job=job, user=user, options={"accounts": [target.pk]}, run=False
                    )
                    job = services.import_job_run(job_id=job.pk)
                    return services.import_report_line(job)

                elapsed, peak, report = _in_child(run)
                seconds.append(elapsed)
                peaks.append(peak)
            reference = None
            if kind == "dnc" and connection.vendor == "postgresql":
                reference = _copy_in_reference(
                    path,
                    "contact, sender, channel, comment",
                    "CREATE TEMP TABLE bench_ref (contact text, sender text, channel text, comment text)",
                )
            elif connection.vendor == "postgresql":
                # The same rows as CSV (written untimed): the reference is loading them raw.
                columns = _xlsx_to_csv(path, path + ".csv")
                reference = _copy_in_reference(
                    path + ".csv",
                    ", ".join(f"c{i}" for i in range(columns)),
                    "CREATE TEMP TABLE bench_ref (" + ", ".join(f"c{i} text" for i in range(columns)) + ")",
                )
            name = f"{kind} import of {count:,} rows ({os.path.getsize(path) / 1e6:.1f} MB), analyze + import"
            row = _heavy_row(name, seconds, peaks, count, reference, "raw COPY")
            row["report"] = report
            rows.append(row)
    return rows


@section("exports")
def exports(*, account, repeat: int, profiles: int) -> list[dict]:
    from imports import exports as export_service
    from imports.models import ExportJob

    _, user = _client(account)
    rows = []
    count = Profile.objects.filter(account=account).count()
    reference = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            started = time.perf_counter()
            with cursor.cursor.copy(
                "COPY (SELECT id, external_id, first_name, last_name, city, country FROM audience_profile "
                f"WHERE account_id = {int(account.pk)}) TO STDOUT WITH (FORMAT csv)"
            ) as copy:
                for _ in copy:
                    pass
            reference = time.perf_counter() - started
    for fmt in ("csv", "xlsx"):
        if fmt == "xlsx" and count > 200_000 and profiles < 1_000_000:
            continue
        # A million-row .xlsx takes minutes: measured once; CSV three times.
        runs = 1 if fmt == "xlsx" and count > 200_000 else min(repeat, HEAVY_REPEAT)
        seconds, peaks = [], []
        for _ in range(runs):
            job = ExportJob.objects.create(
                account=account,
                created_by=user,
                kind="people",
                format=fmt,
                selection={"ids": None, "filters": {}},
            )
            elapsed, peak, _ = _in_child(lambda job=job: export_service.export_job_run(job_id=job.pk) and "")
            seconds.append(elapsed)
            peaks.append(peak)
        rows.append(
            _heavy_row(
                f"People export of {count:,} profiles to {fmt}",
                seconds,
                peaks,
                count,
                reference,
                "raw COPY TO",
            )
        )
    return rows


@section("dnc")
def dnc(*, account, repeat: int, profiles: int) -> list[dict]:
    from benchmarks.dnc_bench import _number
    from dnc import services

    size = 1_000_000 if profiles >= 1_000_000 else 20_000
    target = audience_services.account_create(name=f"Bench DNC {int(time.time())}")
    services.dnc_entries_add(
        accounts=[target],
        entries=({"contact": _number(i * 2), "channel": "SMS"} for i in range(size)),
        source="API",
        how="api",
    )
    destinations = [_number(i) for i in range(size)]
    figure = timed(
        lambda: services.dnc_blocked_destinations(
            account=target, channel="SMS", sender="", destinations=destinations
        ),
        max(3, repeat // 3),
    )
    blocked = services.dnc_blocked_destinations(
        account=target, channel="SMS", sender="", destinations=destinations
    )
    return [
        {
            "name": f"DNC batch check of {size:,} destinations against {size:,} entries",
            "median": f"{figure['median_ms'] / 1000:.2f} s",
            "p95": f"{figure['p95_ms'] / 1000:.2f} s",
            "reference": f"{len(blocked):,} blocked (expected {size // 2:,})",
        }
    ]


SENDS_ACCOUNT = "Bench sends"


def _sends_account(name: str, size: int, kinds: tuple[str, ...] = ("email", "phone")):
    """The account `name` of `size` people, each with a contact of each of `kinds` (created once,
    reused; people already there are kept, so one account per size and kinds)."""
    from audience.models import Account, Contact, Profile

    account = Account.objects.filter(name=name).first() or audience_services.account_create(
        name=name, time_zone="UTC"
    )
    values = {"email": lambda pk: f"p{pk}@example.com", "phone": lambda pk: f"+38591{pk:07d}"}
    have = Profile.objects.filter(account=account).count()
    for start in range(have, size, 10_000):
        batch = Profile.objects.bulk_create(
            [Profile(account=account, first_name=f"P{i}") for i in range(start, min(size, start + 10_000))]
        )
        Contact.objects.bulk_create(
            [
                Contact(account=account, profile=p, kind=kind, value=values[kind](p.pk))
                for kind in kinds
                for p in batch
            ]
        )
    return account


def _send_once(account, channel: str) -> tuple[float, object]:
    """A broadcast to the whole account, run in this process from queue to done: seconds."""
    from django.utils import timezone

    from audience.selection import Selection
    from communications import services as sending
    from communications.models import Broadcast

    broadcast = sending.broadcast_create(
        account=account,
        user=None,
        name=f"bench {channel}",
        channel=channel,
        sender="",
        subject="Hello {{ first_name }}" if channel == "EMAIL" else "",
        text="Hi {{ first_name|default:'there' }}, 20% off everything this week.",
        audience=sending.AudienceSpec(selections=[Selection()]),
    )
    Broadcast.objects.filter(pk=broadcast.pk).update(queued_at=timezone.now(), status="pending")
    database = _database_cpu()
    started, cpu = time.perf_counter(), time.process_time()
    sending.broadcast_run(broadcast_id=broadcast.pk)
    seconds = time.perf_counter() - started
    # This process's CPU (all its threads): on a loaded machine the wall time says more about the
    # neighbours than about the client; CPU per message says what one free core would do.
    broadcast = Broadcast.objects.get(pk=broadcast.pk)
    broadcast.cpu_seconds = time.process_time() - cpu
    after = _database_cpu()
    broadcast.database_cpu_seconds = after - database if after is not None and database is not None else None
    return seconds, broadcast


def _database_cpu() -> float | None:
    """CPU seconds so far of the PostgreSQL backend serving this process's connection (read from
    /proc: only when the database runs on this machine; None otherwise)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return _process_cpu(pid) if os.path.exists(f"/proc/{pid}/stat") else None


def _process_cpu(pid: int) -> float:
    """CPU seconds so far of process `pid` and its children (a Celery worker and its pool), read
    from /proc."""
    total = 0.0
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            total += sum(_process_cpu(int(child)) for child in children.read().split())
    except OSError:
        pass
    return total


def _celery_worker(processes: int, env: dict) -> subprocess.Popen:
    """A Celery worker of `processes` processes (SEND_PROCESSES the same) with `env`, the queue
    emptied of what earlier runs left first (before it starts, not after)."""
    from audience.celery import app

    app.control.purge()
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "audience", "worker", "--concurrency", str(processes)]
        + ["--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        env={**os.environ, **env, "SEND_PROCESSES": str(processes), "COMMUNICATIONS_BACKEND": ""},
    )


def _send_row(name: str, seconds: float, broadcast, received: int) -> dict:
    rate = broadcast.sent / seconds
    return {
        "name": name,
        "median": f"{seconds:.1f} s ({rate:,.0f}/s, {broadcast.sent:,} sent, {broadcast.failed:,} failed)",
        "p95": "1 run",
        "reference": f"server received {received:,}; client CPU {broadcast.cpu_seconds * 1000 / max(1, broadcast.sent):.2f} ms a message"
        + (
            f", PostgreSQL backend CPU {broadcast.database_cpu_seconds * 1000 / max(1, broadcast.sent):.2f} ms a message"
            if getattr(broadcast, "database_cpu_seconds", None) is not None
            else ""
        ),
        "ratio": f"1M in {1_000_000 / rate / 60:.1f} min",
    }


# The bench's SMTP server, run in its own process (a real relay is another machine: in this process
# it would compete with the client for the GIL). Postfix's `smtp-sink` when it is installed (Debian's
# postfix package; BENCH_SMTP_SERVER=aiosmtpd or smtp-sink chooses), else aiosmtpd. Either counts
# each message and each distinct Message-ID, and the server's own CPU.
SMTP_COUNTER = """
import json, logging, socket, sys, time
from aiosmtpd.controller import Controller
logging.getLogger("mail.log").setLevel(logging.WARNING)
PIPELINING = sys.argv[1] == "1"

class Counter:
    def __init__(self):
        self.received, self.ids = 0, set()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # Offered as Postfix and most relays offer it; aiosmtpd answers a pipelined group in order.
        session.host_name = hostname
        if PIPELINING:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_DATA(self, server, session, envelope):
        self.received += 1
        for line in envelope.content.split(b"\\r\\n"):
            if line[:11].lower() == b"message-id:":
                self.ids.add(line[11:].strip())
                break
            if not line:
                break
        return "250 Message accepted for delivery"

with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
counter = Counter()
controller = Controller(counter, hostname="127.0.0.1", port=port)
controller.start()
print(port, flush=True)
sys.stdin.read()
controller.stop()
counted = {"received": counter.received, "distinct": len(counter.ids), "cpu": time.process_time()}
print(json.dumps(counted), flush=True)
"""


@dataclass
class SmtpServer:
    """The bench's SMTP server process: `port` to send to; `name` says which server it is."""

    process: subprocess.Popen
    port: int
    name: str
    dump: str = ""  # smtp-sink: the file it appends each transaction to


def _smtp_sink_path() -> str | None:
    choice = os.environ.get("BENCH_SMTP_SERVER", "")
    if choice == "aiosmtpd":
        return None
    path = shutil.which("smtp-sink") or shutil.which("smtp-sink", path="/usr/sbin:/usr/lib/postfix/sbin")
    if choice == "smtp-sink" and path is None:
        raise RuntimeError("BENCH_SMTP_SERVER=smtp-sink, but smtp-sink is not installed (Debian: postfix)")
    return path


def _smtp_counter() -> tuple[SmtpServer, int]:
    """Start the bench's SMTP server; (the server, its port)."""
    sink = _smtp_sink_path()
    pipelining = os.environ.get("BENCH_SMTP_PIPELINING", "1")
    if sink is None:
        process = subprocess.Popen(
            [sys.executable, "-c", SMTP_COUNTER, pipelining],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        port = int(process.stdout.readline())
        return SmtpServer(process, port, "aiosmtpd"), port
    # smtp-sink appends every transaction (its envelope, then the message) to one dump file, read
    # when the send is over: what the server received, not what the client says it sent.
    folder = tempfile.mkdtemp(prefix="bench-smtp-")
    os.chmod(folder, 0o777)  # smtp-sink run by root drops to `nobody` (-u), which writes the dump
    dump = os.path.join(folder, "dump")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = [sink, "-D", dump, "-m", "1024"] + (["-u", "nobody"] if os.geteuid() == 0 else [])
    if pipelining != "1":
        args.append("-p")
    process = subprocess.Popen(args + [f"127.0.0.1:{port}", "256"])
    for _ in range(100):  # listening once a connection is accepted
        with socket.socket() as attempt:
            if attempt.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    return SmtpServer(process, port, "Postfix smtp-sink", dump), port


def _smtp_counted(server: SmtpServer) -> dict:
    """Stop the server: {"received": messages, "distinct": distinct Message-IDs, "cpu": its CPU
    seconds, "server": its name}."""
    if not server.dump:
        out, _ = server.process.communicate(timeout=60)
        return {**json.loads(out.strip().splitlines()[-1]), "server": server.name}
    cpu = _process_cpu(server.process.pid)
    server.process.terminate()
    server.process.wait(timeout=60)
    received, ids = 0, set()
    with contextlib.suppress(FileNotFoundError), open(server.dump, "rb") as dump:
        for line in dump:
            if line.startswith(b"X-Client-Addr: "):  # a transaction's first line
                received += 1
            elif line[:11].lower() == b"message-id:":
                ids.add(line[11:].strip())
    shutil.rmtree(os.path.dirname(server.dump), ignore_errors=True)
    return {"received": received, "distinct": len(ids), "cpu": cpu, "server": server.name}


def _send_in_workers(account, channel: str, processes: int, env: dict) -> tuple[float, object]:
    """A broadcast queued as the app queues it and run by a Celery worker of `processes`
    processes (SEND_PROCESSES the same): seconds from the job's claim to its end, from its row."""
    from django.test import TestCase

    from audience.selection import Selection
    from communications import services as sending
    from communications.models import Broadcast

    worker = _celery_worker(processes, env)
    try:
        broadcast = sending.broadcast_create(
            account=account,
            user=None,
            name=f"bench {channel} × {processes}",
            channel=channel,
            sender="",
            subject="Hello {{ first_name }}" if channel == "EMAIL" else "",
            text="Hi {{ first_name|default:'there' }}, 20% off everything this week.",
            audience=sending.AudienceSpec(selections=[Selection()]),
        )
        with TestCase.captureOnCommitCallbacks(execute=True):
            sending.broadcast_send(broadcast=broadcast, user=None)
        while True:
            broadcast = Broadcast.objects.get(pk=broadcast.pk)
            if broadcast.finished_at:
                break
            time.sleep(0.5)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    broadcast.cpu_seconds = 0.0
    return (broadcast.finished_at - broadcast.started_at).total_seconds(), broadcast


@section("sends")
def sends(*, account, repeat: int, profiles: int) -> list[dict]:
    """100,000 emails to a local SMTP server (its own process: Postfix's smtp-sink, else aiosmtpd)
    and 100,000 SMS through Infobip's official client to a local server answering like
    /sms/3/messages; the projected 1M time (target 10 min). BENCH_SENDS sets the size,
    BENCH_SENDS_CHANNELS=EMAIL or SMS one channel; BENCH_SENDS_PROCESSES=N adds each channel sent
    by a Celery worker of 1 and of N processes, as the app sends."""
    from django.conf import settings

    from tests.communications.servers import HttpRecorder

    size = int(os.environ.get("BENCH_SENDS", 100_000 if profiles >= 1_000_000 else 5_000))
    channels = os.environ.get("BENCH_SENDS_CHANNELS", "EMAIL,SMS").split(",")
    # A send goes to everyone in the account: BENCH_SENDS_ACCOUNT keeps accounts of other sizes apart.
    target = _sends_account(os.environ.get("BENCH_SENDS_ACCOUNT", SENDS_ACCOUNT), size)
    rows = []
    settings.COMMUNICATIONS_BACKEND = ""
    if "EMAIL" in channels:
        server, port = _smtp_counter()
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        try:
            seconds, broadcast = _send_once(target, "EMAIL")
        finally:
            settings.EMAIL_HOST = ""
            counted = _smtp_counted(server)
        name = f"{size:,} emails over SMTP to {counted['server']} ({settings.SMTP_CONNECTIONS} connections a chunk)"
        row = _send_row(name, seconds, broadcast, counted["received"])
        row["reference"] += (
            f", {counted['distinct']:,} distinct Message-IDs; the SMTP server's own CPU "
            f"{counted['cpu'] * 1000 / max(1, counted['received']):.2f} ms a message"
        )
        rows.append(row)
    processes = int(os.environ.get("BENCH_SENDS_PROCESSES", "0"))
    if "EMAIL" in channels and processes > 1:
        # The same send run by Celery workers: one process, then `processes` sharing its chunks.
        for count in (1, processes):
            server, port = _smtp_counter()
            env = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port)}
            try:
                seconds, broadcast = _send_in_workers(target, "EMAIL", count, env)
            finally:
                counted = _smtp_counted(server)
            row = _send_row(
                f"{size:,} emails to {counted['server']}, Celery worker of {count} process(es), "
                f"SEND_PROCESSES={count}",
                seconds,
                broadcast,
                counted["received"],
            )
            row["reference"] = (
                f"server received {counted['received']:,} ({counted['distinct']:,} distinct Message-IDs); "
                f"its own CPU {counted['cpu'] * 1000 / max(1, counted['received']):.2f} ms a message"
            )
            rows.append(row)
    if "SMS" in channels:
        server = HttpRecorder()
        settings.INFOBIP_BASE_URL, settings.INFOBIP_API_KEY = server.url, "bench"
        try:
            seconds, broadcast = _send_once(target, "SMS")
            rows.append(
                _send_row(
                    f"{size:,} SMS through Infobip's client", seconds, broadcast, len(server.message_ids())
                )
            )
        finally:
            server.stop()
            settings.INFOBIP_BASE_URL = ""
    if "SMS" in channels and processes > 1:
        # As deployed: a Celery worker sends; the provider's server (here, in the bench's process,
        # idle meanwhile) is another process.
        for count in (1, processes):
            server = HttpRecorder()
            env = {"INFOBIP_BASE_URL": server.url, "INFOBIP_API_KEY": "bench"}
            try:
                seconds, broadcast = _send_in_workers(target, "SMS", count, env)
                received = len(server.message_ids())
            finally:
                server.stop()
            row = _send_row(
                f"{size:,} SMS through Infobip's client, Celery worker of {count} process(es), "
                f"SEND_PROCESSES={count}",
                seconds,
                broadcast,
                received,
            )
            row["reference"] = f"server received {received:,} distinct message ids"
            rows.append(row)
    return rows


def _flow_of_everyone(account, name: str, steps: list[tuple[str, dict]]):
    """A draft flow whose entry point is every person of `account`, with `steps`."""
    from audience.selection import Selection
    from communications import flows
    from communications import services as sending

    flow = sending.flow_create(
        account=account, user=None, name=name, audience=sending.AudienceSpec(selections=[Selection()])
    )
    for kind, config in steps:
        flows.flow_step_add(flow=flow, kind=kind, config=config)
    return flow


def _flow_drop(flow) -> None:
    """Delete a bench flow and its runs and messages (set-based: the run table has no dependents)."""
    from communications.models import FlowMessage, FlowRun

    FlowRun.objects.filter(flow=flow)._raw_delete(using="default")
    FlowMessage.objects.filter(flow=flow)._raw_delete(using="default")
    flow.delete()


def _flow_send_flow(account, channel: str):
    """An active flow of everyone in `account` whose one step sends on `channel`: its runs due now."""
    from django.utils import timezone

    from communications import services as sending
    from communications.models import FlowStatus, StepKind

    config = {"channel": channel, "text": "Hi {{ first_name }}, 20% off."}
    if channel == "EMAIL":
        config["subject"] = "Hello {{ first_name }}"
    flow = _flow_of_everyone(account, f"bench flow send {channel}", [(StepKind.SEND, config)])
    now = timezone.now()
    sending.flow_status_set(flow=flow, status=FlowStatus.ACTIVE, now=now)
    return flow, now


def _flow_send_in_process(flow, now) -> tuple[float, float]:
    """The scheduler's pass in this process (`flows.flow_runs_due`): seconds and CPU seconds."""
    from communications import flows

    started, cpu = time.perf_counter(), time.process_time()
    flows.flow_runs_due(now=now)
    return time.perf_counter() - started, time.process_time() - cpu


def _flow_send_in_workers(flow, processes: int, env: dict) -> tuple[float, float]:
    """The beat task (`flow_runs_task`) queued as beat queues it and run by a Celery worker of
    `processes` processes (SEND_PROCESSES the same, so it fans out to them): seconds from the
    task's queueing to the step's last waiting run leaving it (its `waiting` count, polled), and
    the worker's CPU seconds meanwhile (its processes', from /proc)."""
    from audience.celery import app
    from communications import tasks
    from communications.models import FlowStep

    worker = _celery_worker(processes, env)
    try:
        for _ in range(120):  # until the worker answers (its start is not part of the send)
            if app.control.ping(timeout=0.5):
                break
        time.sleep(1)  # the pool's processes up
        step = FlowStep.objects.get(flow=flow)
        cpu = _process_cpu(worker.pid)
        started = time.perf_counter()
        tasks.flow_runs_task.delay()
        while FlowStep.objects.filter(pk=step.pk, waiting__gt=0).exists():
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        cpu = _process_cpu(worker.pid) - cpu
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    return seconds, cpu


def _flow_send_row(name: str, flow, seconds: float, cpu: float | None, received: str) -> dict:
    from communications.models import FlowMessage, FlowStep, MessageStatus

    messages = FlowMessage.objects.filter(flow=flow)
    sent = messages.filter(status=MessageStatus.SENT).count()
    failed = messages.filter(status=MessageStatus.FAILED).count()
    step = FlowStep.objects.get(flow=flow)
    rate = sent / seconds if seconds else 0
    return {
        "name": name,
        "median": f"{seconds:.1f} s ({rate:,.0f}/s, {sent:,} sent, {failed:,} failed)",
        "p95": "1 run",
        "reference": f"{received}; step counts {step.passed:,} passed, {step.failed:,} failed, "
        f"{step.waiting:,} waiting"
        + (f"; client CPU {cpu * 1000 / max(1, sent):.2f} ms a message" if cpu is not None else ""),
        "ratio": f"1M in {1_000_000 / max(rate, 0.001) / 60:.1f} min",
    }


def _flow_sends(size: int) -> list[dict]:
    """A send step over `size` due runs, per channel (BENCH_FLOW_SENDS_CHANNELS, EMAIL,SMS): run
    in this process, then by Celery workers of 1 and BENCH_FLOW_SENDS_PROCESSES (2) processes."""
    from django.conf import settings

    from tests.communications.servers import HttpRecorder

    target = _sends_account(f"Bench flow sends {size} (email, phone)", size)
    processes = int(os.environ.get("BENCH_FLOW_SENDS_PROCESSES", "2"))
    rows = []
    settings.COMMUNICATIONS_BACKEND = ""
    # Infobip's client takes seconds to import: once a process, not part of this process's send
    # (a worker process pays it on its first SMS, in the figures below).
    import communications.channels.infobip  # noqa: F401

    for channel in os.environ.get("BENCH_FLOW_SENDS_CHANNELS", "EMAIL,SMS").split(","):
        for count in (0, *sorted({1, processes})):  # 0: in this process
            flow, now = _flow_send_flow(target, channel)
            where = (
                "this process"
                if not count
                else f"Celery worker of {count} process(es), SEND_PROCESSES={count}"
            )
            try:
                if channel == "EMAIL":
                    server, port = _smtp_counter()
                    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
                    env = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port)}
                    try:
                        if count:
                            seconds, cpu = _flow_send_in_workers(flow, count, env)
                        else:
                            seconds, cpu = _flow_send_in_process(flow, now)
                    finally:
                        settings.EMAIL_HOST = ""
                        counted = _smtp_counted(server)
                    received = f"SMTP server received {counted['received']:,} ({counted['distinct']:,} distinct Message-IDs)"
                    name = f"flow send step over {size:,} due runs, email over SMTP, {where}"
                else:
                    server = HttpRecorder()
                    settings.INFOBIP_BASE_URL, settings.INFOBIP_API_KEY = server.url, "bench"
                    env = {"INFOBIP_BASE_URL": server.url, "INFOBIP_API_KEY": "bench"}
                    try:
                        if count:
                            seconds, cpu = _flow_send_in_workers(flow, count, env)
                        else:
                            seconds, cpu = _flow_send_in_process(flow, now)
                    finally:
                        server.stop()
                        settings.INFOBIP_BASE_URL = ""
                    ids = server.message_ids()
                    received = f"HTTP server received {len(ids):,} ({len(set(ids)):,} distinct message ids)"
                    name = f"flow send step over {size:,} due runs, SMS through Infobip's client, {where}"
                rows.append(_flow_send_row(name, flow, seconds, cpu, received))
                print("   ", rows[-1])
            finally:
                _flow_drop(flow)
    return rows


def _flow_counts_at(account, runs: int, repeat: int) -> list[dict]:
    """The flow page's per-step waiting counts (`flows.flow_step_counts`) at `runs` waiting runs
    at one step, next to the count(*) it replaced; and what the counting triggers add to an
    insert of that many runs (the same INSERT with the session's triggers off). The runs are
    inserted directly (one statement, profile ids made up: the run table has no foreign keys),
    as activation inserts them."""
    from django.db import connection

    from communications import flows
    from communications.models import FlowRun, StepKind

    flow = _flow_of_everyone(account, "bench waiting counts", [(StepKind.EXIT, {})])
    step = flow.steps.get()
    insert = (
        f"INSERT INTO {FlowRun._meta.db_table} (account_id, flow_id, profile_id, step_id, state, due_at, "
        "reply, error, claim, entered_at, entries) SELECT %s, %s, g, %s, 'waiting', now() + interval '1 day', "
        "'', '', '', now(), 1 FROM generate_series(1, %s) AS g"
    )
    params = [account.pk, flow.pk, step.pk, runs]
    inserts = {}
    try:
        with connection.cursor() as cursor:
            for triggers in (False, True):
                if not triggers:
                    cursor.execute("SET session_replication_role = replica")  # triggers off
                started = time.perf_counter()
                cursor.execute(insert, params)
                inserts[triggers] = time.perf_counter() - started
                cursor.execute(f"DELETE FROM {FlowRun._meta.db_table} WHERE flow_id = %s", [flow.pk])
                cursor.execute("SET session_replication_role = DEFAULT")
            cursor.execute(insert, params)
            cursor.execute("VACUUM ANALYZE " + FlowRun._meta.db_table)
        exact = FlowRun.objects.filter(flow=flow, step=step, state="waiting").count()
        counts = flows.flow_step_counts(flow=flow)
        figure = timed(lambda: flows.flow_step_counts(flow=flow), repeat)
        reference = timed(
            lambda: FlowRun.objects.filter(flow=flow, step=step, state="waiting").count(), max(3, repeat // 3)
        )
    finally:
        _flow_drop(flow)
    row = _row(f"flow page's waiting counts at {runs:,} waiting runs (flow_step_counts)", figure, reference)
    row["reference"] = (
        f"count(*) of the waiting runs (the old reader) {reference['median_ms']:.1f} ms; "
        f"counter {counts.get(step.pk, 0):,} = count(*) {exact:,}"
    )
    return [
        row,
        {
            "name": f"insert {runs:,} waiting runs in one statement, with the waiting-count triggers",
            "median": f"{inserts[True]:.2f} s",
            "p95": "1 run",
            "reference": f"without them {inserts[False]:.2f} s",
            "ratio": f"{inserts[True] / inserts[False]:.2f}×",
        },
    ]


@section("flows")
def flow_runs(*, account, repeat: int, profiles: int) -> list[dict]:
    """Activating a flow whose entry point is the whole account (the set-based enrolment of every
    person at step 1), next to a count(*) of the same profiles; the flow page's waiting counts at
    BENCH_FLOW_RUNS (1,000,000) runs; and a send step over due runs (BENCH_FLOW_SENDS; profiles /
    10, 1,000 to 100,000) by email to a local SMTP server in its own process and by SMS through
    Infobip's client to a local HTTP server, through the scheduler: in this process
    (`flows.flow_runs_due`), and as the beat task runs it in Celery workers of 1 and
    BENCH_FLOW_SENDS_PROCESSES processes."""
    from communications import services as sending
    from communications.models import FlowRun, FlowStatus, StepKind

    rows = []
    reference = _reference_count(account, max(3, repeat))
    rows.append(
        {
            "name": "reference: SELECT count(*) of the account's profiles",
            "median": f"{reference['median_ms']:.1f} ms",
            "p95": f"{reference['p95_ms']:.1f} ms",
        }
    )
    samples, enrolled = [], 0
    for attempt in range(min(repeat, 3)):
        flow = _flow_of_everyone(account, f"bench activation {attempt}", [(StepKind.EXIT, {})])
        started = time.perf_counter()
        sending.flow_status_set(flow=flow, status=FlowStatus.ACTIVE)
        samples.append((time.perf_counter() - started) * 1000)
        enrolled = FlowRun.objects.filter(flow=flow).count()
        _flow_drop(flow)
    samples.sort()
    figure = {"median_ms": statistics.median(samples), "p95_ms": samples[-1]}
    row = _row(f"activate a flow of {enrolled:,} people (enrolment)", figure, reference)
    row["median"] = f"{figure['median_ms'] / 1000:.2f} s"
    row["p95"] = f"{figure['p95_ms'] / 1000:.2f} s (max of {len(samples)})"
    rows.append(row)

    rows += _flow_counts_at(account, int(os.environ.get("BENCH_FLOW_RUNS", 1_000_000)), repeat)
    size = int(os.environ.get("BENCH_FLOW_SENDS", min(100_000, max(1_000, profiles // 10))))
    rows += _flow_sends(size)
    return rows
