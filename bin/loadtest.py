#!/usr/bin/env python
"""A bounded load test against a local gunicorn (`make loadtest`).

Prepares its own data in the database DATABASE_URL points at (an account "Loadtest" with N
marketers, ~20,000 demo profiles, one segment and one running export job; all reused on the next
run), starts gunicorn on a free port, and lets N simulated users work for a fixed time. Each signs
in once (CSRF + session) and loops over what a marketer does all day: the People list (filters,
search, sorts, deep keyset pages), its summary count fragment, the segment editor's live count with
a rule that keeps changing, saving the segment now and then, and polling a job's progress fragment.

With a replica (`--replica-url`, or `--replica-port` for a hot standby of the same server such as
bin/standby-start's), the same users with the same seeds run twice: against the primary alone,
then with the replica as DATABASE_REPLICA_URLS; counts start cold in each run, and the report puts
throughput and p95 side by side, with what the standby executed in each run (its own
pg_stat_database).

Any response outside 2xx/3xx, a redirect to the sign-in page, a rule the editor refuses, or an
exception (a timeout included) is an error; the script exits 1 if there was one. Results go to
docs/benchmarks/loadtest.{json,md}. gunicorn is stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlencode

import requests

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "Loadtest"
SEGMENT_NAME = "Loadtest segment"
PASSWORD = "loadtest-password"
NEXT_LINK = re.compile(r'rel="next" href="\?([^"]+)"')
STILL_COUNTING = "Still counting"
# What a page shows when it refuses its input; every input here is valid, so any of these is a bug.
REFUSALS = {
    "people": "The filter can't be applied",
    "people_next_page": "The filter can't be applied",
    "people_count": "Can't count",
    "rule_count": "data-rule-errors",
}


# ---------------------------------------------------------------------------------------------
# Statistics and the report: plain functions, unit-tested in tests/test_loadtest.py.


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) of `values`, interpolating between closest ranks."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: list[float], errors: int = 0) -> dict:
    return {
        "count": len(seconds),
        "errors": errors,
        "mean_ms": round(sum(seconds) * 1000 / len(seconds), 1) if seconds else 0.0,
        **{f"p{q}_ms": round(percentile(seconds, q) * 1000, 1) for q in (50, 95, 99)},
        "max_ms": round(max(seconds, default=0.0) * 1000, 1),
    }


@dataclass
class Recorder:
    """Every request's kind, duration and error, shared by the user threads."""

    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    notes: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, error: str | None = None, where: str = "") -> None:
        with self.lock:
            self.samples[kind].append(seconds)
        if error:
            self.fail(kind, error, where)

    def fail(self, kind: str, error: str, where: str = "") -> None:
        """An error outside any timed request (an exception in this script)."""
        with self.lock:
            self.errors[kind] += 1
            if len(self.error_samples) < 20:
                self.error_samples.append(f"{kind} {where}: {error}")

    def note(self, what: str) -> None:
        with self.lock:
            self.notes[what] += 1

    def summary(self, *, window: float, exclude: tuple[str, ...] = ("login",)) -> dict:
        """Totals, throughput and per-kind latencies; `exclude` kinds (sign-in) happen before the
        timed window and are reported apart."""
        kinds = {
            k: latency_summary(self.samples.get(k, []), self.errors[k])
            for k in sorted(set(self.samples) | set(self.errors))
        }
        timed = [s for k, v in self.samples.items() if k not in exclude for s in v]
        requests_ = len(timed)
        return {
            "window_seconds": round(window, 2),
            "requests": requests_,
            "errors": sum(self.errors.values()),
            "throughput_rps": round(requests_ / window, 1) if window else 0.0,
            "all": latency_summary(timed, sum(n for k, n in self.errors.items() if k not in exclude)),
            "kinds": kinds,
            "notes": dict(self.notes),
            "error_samples": list(self.error_samples),
        }


def report_markdown(results: dict, *, title: str = "# Load test") -> str:
    machine, config = results["machine"], results["config"]
    lines = [
        title,
        "",
        f"{machine['date']} · {config['users']} users · {config['duration']} s · gunicorn "
        f"{config['workers']} sync workers · think time {config['think']} s · "
        f"{config['profiles']:,} profiles · cache: {config['cache']} · {machine['cpus']} CPUs · Python {machine['python']} · "
        f"Django {machine['django']}",
        "",
        f"Database: {machine['database']}",
        "",
        f"Load average before {machine['load_before']}, after {machine['load_after']}. CPU in the "
        f"window: gunicorn workers {results['cpu']['gunicorn_workers_s']} s, this client "
        f"{results['cpu']['client_s']} s.",
        "",
        f"**{results['requests']:,} requests in {results['window_seconds']} s = "
        f"{results['throughput_rps']} req/s, {results['errors']} errors.**",
        "",
        "| kind | requests | errors | mean ms | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [("all (timed window)", results["all"])] + list(results["kinds"].items())
    for kind, s in rows:
        lines.append(
            f"| {kind} | {s['count']:,} | {s['errors']} | {s['mean_ms']} | {s['p50_ms']} | "
            f"{s['p95_ms']} | {s['p99_ms']} | {s['max_ms']} |"
        )
    lines += ["", "`login` (one per user) happens before the timed window and is not in the totals."]
    if results.get("standby"):
        standby = results["standby"]
        lines += [
            "",
            f"Replica: {standby['url']} ({standby['health']} in /healthz). It executed "
            f"{standby['transactions']:,} transactions and returned {standby['rows']:,} rows in the window.",
        ]
    if results["notes"]:
        lines += ["", "Notes: " + ", ".join(f"{k}: {v}" for k, v in sorted(results["notes"].items()))]
    if results["error_samples"]:
        lines += ["", "Errors (first 20):", ""] + [f"- {e}" for e in results["error_samples"]]
    return "\n".join(lines) + "\n"


def comparison_markdown(primary: dict, replica: dict) -> str:
    """The two runs side by side: throughput, errors, p50/p95/p99 overall and p95 of each kind."""
    machine, config = primary["machine"], primary["config"]
    standby = replica.get("standby") or {}
    lines = [
        "# Load test: the primary alone, then with one read replica",
        "",
        f"{machine['date']} · {config['users']} users (seeds 0–{config['users'] - 1}) · "
        f"{config['duration']} s a run · gunicorn {config['workers']} sync workers · think time "
        f"{config['think']} s · {config['profiles']:,} profiles · cache: {config['cache']} · "
        f"{machine['cpus']} CPUs · counts cold at the start of each run",
        "",
        f"Replica: {standby.get('url', '?')}, a hot standby (streaming replication) of the same "
        "server, on the same machine and cores.",
        "",
        "| run | requests | req/s | errors | p50 ms | p95 ms | p99 ms | load average before → after | "
        "standby transactions | standby rows |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, run in (("primary alone", primary), ("with one standby", replica)):
        s, m, sb = run["all"], run["machine"], run.get("standby") or {}
        lines.append(
            f"| {name} | {run['requests']:,} | {run['throughput_rps']} | {run['errors']} | {s['p50_ms']} | "
            f"{s['p95_ms']} | {s['p99_ms']} | {m['load_before']} → {m['load_after']} | "
            f"{sb.get('transactions', 0):,} | {sb.get('rows', 0):,} |"
        )
    lines += ["", "p95 ms of each kind:", "", "| kind | primary alone | with one standby |", "|---|---|---|"]
    for kind in sorted(set(primary["kinds"]) | set(replica["kinds"])):
        if kind == "login":
            continue
        one, two = primary["kinds"].get(kind, {}), replica["kinds"].get(kind, {})
        lines.append(f"| {kind} | {one.get('p95_ms', '–')} | {two.get('p95_ms', '–')} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# What a simulated marketer does.


@dataclass(frozen=True)
class Target:
    base_url: str
    usernames: list[str]
    password: str
    segment_id: int
    job_id: int
    cities: list[str]
    countries: list[str]
    names: list[str]


def random_rule(rng: random.Random, cities: list[str]) -> dict:
    """A valid rule that changes on every call, as the editor's rule does while someone types."""
    conditions: list[dict] = [{"attribute": "city", "operator": "in", "value": rng.sample(cities, 2)}]
    if rng.random() < 0.5:
        conditions.append({"attribute": "custom.orders", "operator": "gte", "value": rng.randint(0, 20)})
    if rng.random() < 0.3:
        conditions.append({"attribute": "gender", "operator": "is", "value": rng.choice(["female", "male"])})
    rule: dict = {"version": 1, "attributes": {"match": rng.choice(["all", "any"]), "conditions": conditions}}
    if rng.random() < 0.3:
        rule["events"] = [
            {
                "event": "Purchase",
                "performed": True,
                "occurrence": {"operator": "gte", "count": rng.randint(1, 3)},
                "time": {"operator": "within_last", "amount": rng.choice([7, 30, 90]), "unit": "days"},
            }
        ]
    return rule


def people_query(rng: random.Random, target: Target) -> str:
    """A People querystring: none, one or two quick filters, a search sometimes, a sort sometimes."""
    choices = {
        "country": target.countries,
        "city": target.cities,
        "type": ["lead", "customer"],
        "gender": ["female", "male"],
    }
    params: dict[str, str] = {}
    for key in rng.sample(sorted(choices), rng.choice([0, 0, 1, 1, 2])):
        params[key] = rng.choice(choices[key])
    if rng.random() < 0.2:
        params["q"] = rng.choice(target.names)[: rng.randint(3, 6)]
    if rng.random() < 0.3:
        params["sort"] = rng.choice(["name", "-created", "city", "country", "type"])
    return urlencode(params)


def classify(response: requests.Response, *, expect_redirect: bool = False) -> str | None:
    """None for a success; else what went wrong."""
    status = response.status_code
    if status >= 400 or status < 200:
        return f"HTTP {status}"
    location = response.headers.get("Location", "")
    if 300 <= status < 400 and "/login/" in location:
        return f"HTTP {status} to the sign-in page (session lost)"
    if expect_redirect and not 300 <= status < 400:
        return f"HTTP {status}, expected a redirect"
    return None


class User:
    """One signed-in browser: its own cookies, its own random choices."""

    def __init__(self, target: Target, username: str, recorder: Recorder, *, seed: int, think: float) -> None:
        self.target, self.username, self.recorder = target, username, recorder
        self.rng = random.Random(seed)
        self.think = think
        self.http = requests.Session()
        self.timeout = 30.0
        # No new request after the deadline, so the window ends with the last one in flight.
        self.deadline = float("inf")

    def request(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        data: dict | None = None,
        htmx: bool = False,
        expect_redirect: bool = False,
    ) -> requests.Response | None:
        if time.monotonic() >= self.deadline:
            return None
        headers = {}
        if htmx:
            headers["HX-Request"] = "true"
        if method == "POST":
            headers["X-CSRFToken"] = self.http.cookies.get("csrftoken", "")
        started = time.perf_counter()
        try:
            response = self.http.request(
                method,
                self.target.base_url + path,
                data=data,
                headers=headers,
                allow_redirects=False,
                timeout=self.timeout,
            )
            error = classify(response, expect_redirect=expect_redirect) or self.refused(kind, response)
        except requests.RequestException as exception:
            response, error = None, f"{type(exception).__name__}: {exception}"
        self.recorder.add(kind, time.perf_counter() - started, error, f"{method} {path}")
        if self.think:
            time.sleep(self.rng.uniform(0, 2 * self.think))
        return None if error else response

    def refused(self, kind: str, response: requests.Response) -> str | None:
        if kind in REFUSALS and REFUSALS[kind] in response.text:
            return f"HTTP {response.status_code} but the page refused valid input ({REFUSALS[kind]!r})"
        if kind in ("people_count", "rule_count") and STILL_COUNTING in response.text:
            self.recorder.note(f"{kind}: still counting")
        return None

    def sign_in(self) -> bool:
        if self.request("login", "GET", "/login/") is None:
            return False
        form = {"username": self.username, "password": self.target.password}
        form["csrfmiddlewaretoken"] = self.http.cookies.get("csrftoken", "")
        response = self.request("login", "POST", "/login/", data=form, expect_redirect=True)
        return response is not None and "sessionid" in self.http.cookies

    def visit(self) -> None:
        """One round of work; a failed request ends the round early (the next one starts over)."""
        rng, target = self.rng, self.target
        query = people_query(rng, target)
        page = self.request("people", "GET", f"/people/?{query}")
        if page is None or self.request("people_count", "GET", f"/people/count/?{query}", htmx=True) is None:
            return
        if rng.random() < 0.3:
            for _ in range(rng.randint(2, 12)):
                found = NEXT_LINK.search(page.text)
                if not found:
                    break
                page = self.request(
                    "people_next_page", "GET", f"/people/?{html.unescape(found[1])}", htmx=True
                )
                if page is None:
                    return
        for _ in range(rng.randint(1, 3)):
            rule = json.dumps(random_rule(rng, target.cities))
            if self.request("rule_count", "POST", "/segments/count/", data={"rule": rule}, htmx=True) is None:
                return
        if rng.random() < 0.15:
            self.save_segment()
        for _ in range(rng.randint(1, 2)):
            if self.request("job_poll", "GET", f"/imports/exports/{target.job_id}/", htmx=True) is None:
                return

    def save_segment(self) -> None:
        path = f"/segments/{self.target.segment_id}/edit/"
        if self.request("segment_editor", "GET", path) is None:
            return
        form = {
            "name": SEGMENT_NAME,
            "description": f"Saved by {self.username}",
            "rule": json.dumps(random_rule(self.rng, self.target.cities)),
        }
        saved = self.request("segment_save", "POST", path, data=form, expect_redirect=True)
        if saved is not None:
            self.request("segment_detail", "GET", saved.headers["Location"])


def run_users(
    target: Target, recorder: Recorder, *, users: int, duration: float, think: float, stop: threading.Event
) -> float:
    """Sign everyone in, then let them work for `duration` seconds; the timed window's length.

    Sign-ins (a password hash each) come first, all at once, and stay out of the timed window."""
    signed_in: list[User] = []

    def sign_in(index: int) -> None:
        user = User(target, target.usernames[index], recorder, seed=index, think=think)
        if user.sign_in():
            signed_in.append(user)

    _run_threads(sign_in, range(users))
    started = time.monotonic()
    deadline = started + duration

    def work(user: User) -> None:
        user.deadline = deadline
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                user.visit()
            except Exception as exception:  # a bug in this script must show, not end a user quietly
                recorder.fail("client", f"{type(exception).__name__}: {exception}")

    _run_threads(work, signed_in)
    return time.monotonic() - started


def _run_threads(function, arguments) -> None:
    threads = [threading.Thread(target=function, args=(a,), daemon=True) for a in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        # Short joins keep the main thread responsive to Ctrl-C.
        while thread.is_alive():
            thread.join(timeout=0.5)


# ---------------------------------------------------------------------------------------------
# Data, gunicorn and the command line.


def prepare(*, users: int, profiles: int, events_per_profile: int) -> Target:
    """The account, its marketers, ~`profiles` demo profiles, a segment and a running export job."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from audience import demo, demo_data, services
    from audience.jobs import JobStatus
    from audience.models import Account, Profile, Role
    from imports.models import ExportJob, ExportKind
    from segments import selectors as segment_selectors
    from segments import services as segment_services
    from segments.models import Segment

    account = Account.objects.filter(name=ACCOUNT).first()
    have = Profile.objects.filter(account=account).count() if account else 0
    if have < profiles:
        print(f"seeding {profiles - have:,} profiles into {ACCOUNT!r} (once; reused later)")
        demo.seed_demo(
            profiles=profiles - have, events_per_profile=events_per_profile, seed=11, account_name=ACCOUNT
        )
        account = Account.objects.get(name=ACCOUNT)
    # One hash for everyone: 50 separate PBKDF2 runs would take longer than the test.
    hashed = make_password(PASSWORD)
    usernames = [f"loadtest-{n:03d}" for n in range(1, users + 1)]
    User = get_user_model()
    first = None
    for username in usernames:
        user, _ = User.objects.update_or_create(username=username, defaults={"password": hashed})
        services.membership_set(account=account, user=user, role=Role.MARKETER)
        first = first or user
    cities = [city for _, _, places in demo_data.COUNTRIES for city in places[:3]]
    rng = random.Random(0)
    for _ in range(30):
        problems = segment_selectors.rule_validate(account=account, rule=random_rule(rng, cities))
        if problems:
            raise SystemExit(f"the generated rules are not valid here: {problems}")
    segment = Segment.objects.filter(account=account, name=SEGMENT_NAME).first() or (
        segment_services.segment_create(
            account=account, name=SEGMENT_NAME, rule=random_rule(rng, cities), user=first
        )
    )
    # A job that stays running: nothing works on it, so every poll renders the progress fragment.
    job, _ = ExportJob.objects.get_or_create(
        account=account,
        kind=ExportKind.PEOPLE,
        status=JobStatus.RUNNING,
        defaults={"total": profiles, "processed": profiles // 3, "created_by": first},
    )
    names = sorted(set(demo_data.FIRST_NAMES_FEMALE[:20] + demo_data.LAST_NAMES[:20]))
    return Target(
        base_url="",
        usernames=usernames,
        password=PASSWORD,
        segment_id=segment.pk,
        job_id=job.pk,
        cities=cities,
        countries=[country for country, _, _ in demo_data.COUNTRIES],
        names=names,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_start(*, port: int, workers: int, log: Path, replica_url: str = "") -> subprocess.Popen:
    env = {**os.environ, "DEBUG": "false"}
    env.pop("DATABASE_REPLICA_URLS", None)
    if replica_url:
        env["DATABASE_REPLICA_URLS"] = replica_url
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).parent / "gunicorn"),  # this Python's environment
        "audience.wsgi",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        "60",
    ]
    # Its own session: Ctrl-C reaches this script, which then stops gunicorn itself.
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True)


def wait_healthy(base_url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}; see its log")
        try:
            if requests.get(base_url + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not answer /healthz in time")


def gunicorn_stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_cpu_seconds(master_pid: int) -> float:
    """User + system CPU of gunicorn's workers (Linux /proc; 0 elsewhere)."""
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return 0.0
    total = 0
    for pid in children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def standby_counters(url: str) -> tuple[int, int]:
    """What the replica itself executed so far in its copy of the database: transactions, rows."""
    import psycopg

    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]), int(row[1])


def replica_url_for(database_url: str, port: int) -> str:
    """DATABASE_URL with another port: the same database on a standby of the same server."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(database_url)
    host = parts.hostname or "127.0.0.1"
    auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{auth}{host}:{port}"))


def run_server(args, target: Target, *, replica_url: str = "") -> dict | None:
    """One run: gunicorn (with `replica_url` as its replica, or none), the users, the results;
    None when interrupted."""
    from django.db import connection

    from audience import counting
    from audience.models import Account

    # Counts start cold: the account's cached counts are not used again.
    counting.data_changed(account_ids=[Account.objects.get(name=ACCOUNT).pk])
    connection.close()
    port = free_port()
    log = ROOT / "var" / "loadtest-gunicorn.log"
    process = gunicorn_start(port=port, workers=args.workers, log=log, replica_url=replica_url)
    stop = threading.Event()
    standby = None
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_healthy(base_url, process)
        if replica_url:
            health = requests.get(base_url + "/healthz", timeout=10).json().get("replicas", {})
            standby = {"url": re.sub(r"//[^@/]*@", "//", replica_url), "health": ", ".join(health.values())}
            counters_before = standby_counters(replica_url)
        target = replace(target, base_url=base_url)
        recorder = Recorder()
        load_before = load_average()
        where = f"with replica {standby['url']}" if standby else "on the primary alone"
        print(
            f"{args.users} users for {args.duration:g} s against {base_url} ({args.workers} workers), {where}"
        )
        cpu_before = (worker_cpu_seconds(process.pid), client_cpu_seconds())
        window = run_users(
            target, recorder, users=args.users, duration=args.duration, think=args.think, stop=stop
        )
        cpu_after = (worker_cpu_seconds(process.pid), client_cpu_seconds())
        load_after = load_average()
        if standby:
            counters_after = standby_counters(replica_url)
            standby["transactions"] = counters_after[0] - counters_before[0]
            standby["rows"] = counters_after[1] - counters_before[1]
    except KeyboardInterrupt:
        stop.set()
        print("interrupted: stopping gunicorn")
        return None
    finally:
        stop.set()
        gunicorn_stop(process)

    # The same machine description as `make bench` (bin/ is on the path: this script's folder).
    from bench import machine

    return {
        "machine": {**machine(), "load_before": load_before, "load_after": load_after},
        "config": {
            "users": args.users,
            "duration": args.duration,
            "workers": args.workers,
            "think": args.think,
            "profiles": args.profiles,
            "cache": "Redis" if os.environ.get("REDIS_URL") else "per-process memory",
        },
        "cpu": {
            "gunicorn_workers_s": round(cpu_after[0] - cpu_before[0], 1),
            "client_s": round(cpu_after[1] - cpu_before[1], 1),
        },
        **({"standby": standby} if standby else {}),
        **recorder.summary(window=window),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60, help="seconds of timed work after sign-in")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--think", type=float, default=0.0, help="mean pause between a user's requests (s)")
    parser.add_argument("--profiles", type=int, default=20_000)
    parser.add_argument("--events-per-profile", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    parser.add_argument("--label", default="loadtest", help="report file name (without extension)")
    parser.add_argument(
        "--replica-url",
        default=(os.environ.get("DATABASE_REPLICA_URLS") or "").split(",")[0].strip(),
        help="a second run with this read replica (default: the first of DATABASE_REPLICA_URLS)",
    )
    parser.add_argument(
        "--replica-port",
        type=int,
        help="a second run with DATABASE_URL's database on this port of the same host (a standby)",
    )
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "audience.settings")
    # The script's own process (data, counters) reads the primary only.
    os.environ.pop("DATABASE_REPLICA_URLS", None)
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        print("The load test needs PostgreSQL: set DATABASE_URL (and CELERY_BROKER_URL for /healthz).")
        return 2
    replica_url = args.replica_url
    if args.replica_port:
        replica_url = replica_url_for(os.environ["DATABASE_URL"], args.replica_port)
    target = prepare(users=args.users, profiles=args.profiles, events_per_profile=args.events_per_profile)

    signal.signal(signal.SIGTERM, _interrupt)
    primary = run_server(args, target)
    if primary is None:
        return 130
    replica = None
    if replica_url:
        replica = run_server(args, target, replica_url=replica_url)
        if replica is None:
            return 130

    args.out.mkdir(parents=True, exist_ok=True)
    if replica is None:
        results, markdown = primary, report_markdown(primary)
    else:
        results = {"primary": primary, "replica": replica}
        markdown = "\n".join(
            [
                comparison_markdown(primary, replica),
                report_markdown(primary, title="## The primary alone"),
                report_markdown(replica, title="## With one standby"),
            ]
        )
    (args.out / f"{args.label}.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / f"{args.label}.md").write_text(markdown)
    print(markdown)
    runs = [primary] + ([replica] if replica else [])
    return 1 if any(run["errors"] for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
