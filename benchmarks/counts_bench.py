"""Time live counts on rules drawn from the whole rule language (benchmarks/rule_generator.py),
cold (`rule_count(cached=False)`), each rule counted once as a marketer's first edit would be;
median, p95 and max next to the reference `SELECT count(*)` of the account's profiles measured in
the same run. A sample of the rules is checked against a second evaluation: the fast count equals
the plain queryset's count, and the queryset's members among a spread of profiles equal what
plain Python computes from those profiles' rows (benchmarks/rule_oracle.py). Then the fixed
suite (benchmarks/segments_bench.py), once per rule, as a second table.

With `--engine duckdb` the rules are counted by the DuckDB count engine instead
(segments/engines: the account's file is built first, and its build time reported), each rule
cold: a new connection to the file, the rule normalised as `rule_count` does. With `--engine both`
each rule is counted by both engines at the same `now`, the figures are side by side, and any
rule whose two counts differ is reported and fails the run. With `--engine duckdb` alone (the 10M
tier, where the database would take hours for 200 rules) the checked sample is the differential
check: each of its rules is counted by both engines at one moment, and the database's cold times
on it are reported as the reference.

    DATABASE_URL=postgres://… SECRET_KEY=bench-only .venv/bin/python -m benchmarks counts \
        [--seed N] [--rules 200] [--check 20] [--engine orm|duckdb|both] [--json out.json]
"""

from __future__ import annotations

import json
import random
import statistics
import time
from typing import Any
from unittest import mock

from django.core.management.base import BaseCommand
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from audience.models import Account, Profile
from benchmarks.rule_generator import RuleGenerator, Vocabulary
from benchmarks.rule_oracle import Oracle
from segments import selectors

TIMEOUT_MS = 30_000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def reference_ms(account: Account, repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        Profile.objects.filter(account=account).count()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def timed_count(account: Account, rule: dict) -> tuple[float, int | None]:
    """A cold count by the database (the ORM engine, whatever COUNT_ENGINE says)."""
    started = time.perf_counter()
    with override_settings(COUNT_ENGINE="orm"):
        count = selectors.rule_count(account=account, rule=rule, cached=False, timeout_ms=TIMEOUT_MS)
    return (time.perf_counter() - started) * 1000, count


def timed_duckdb_count(account: Account, rule: dict, *, now) -> tuple[float, int | None]:
    """A cold count by the DuckDB engine: the account's file attached anew (nothing of an earlier
    rule's read kept), the rule normalised as `rule_count` does (the catalog's definitions read
    from the database), then counted. The process's in-memory DuckDB database, which the file is
    attached to, is made once per process (store._database), as it is when serving."""
    from segments.engines import duck_sql, store

    started = time.perf_counter()
    normalised = selectors.rule_clean(account=account, rule=rule)
    file = store.connect(store.path_for(account.pk))
    try:
        count = duck_sql.rule_count(file.cursor(), normalised, account=account, now=now)
    finally:
        file.close()
    return (time.perf_counter() - started) * 1000, int(count)


def duckdb_build(account: Account) -> dict[str, Any]:
    """Build the account's DuckDB file now; its build time, rows and size."""
    from segments.engines import store

    built = store.build(account.pk)
    if built is None:
        raise SystemExit("another build of this account's DuckDB file is running; try again when it ends")
    return {
        "seconds": round(built.seconds, 1),
        "rows": built.rows,
        "megabytes": round(built.path.stat().st_size / 2**20, 1),
    }


def engine_figures(times: list[float], counts: list[int | None], reference: float) -> dict[str, Any]:
    return {
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(percentile(times, 0.95), 1),
        "max_ms": round(max(times), 1),
        "ratio": round(statistics.median(times) / max(reference, 0.01), 1),
        "timeouts": sum(c is None for c in counts),
    }


def generated_counts(
    account: Account,
    *,
    seed: int,
    rules: int = 200,
    check: int = 20,
    check_profiles: int = 2000,
    engine: str = "orm",
    build: bool = True,
    log=print,
) -> dict[str, Any]:
    """Run the generated rules on `engine` (orm, duckdb or both); returns the figures (of the
    first engine at the top level, of each under "engines"), each rule's times and counts, and
    the checks."""
    engines = ["orm", "duckdb"] if engine == "both" else [engine]
    now = timezone.now()
    vocab = Vocabulary.from_account(account, now=now)
    drawn = RuleGenerator(vocab, seed).rules(rules)
    built = duckdb_build(account) if "duckdb" in engines and build else None
    timed = {
        "orm": lambda rule, now: timed_count(account, rule),
        "duckdb": lambda rule, now: timed_duckdb_count(account, rule, now=now),
    }
    for name in engines:  # catalog, connection, file cache
        timed[name](drawn[0], timezone.now())
    before = reference_ms(account)
    results = []
    for index, rule in enumerate(drawn):
        row: dict[str, Any] = {"index": index, "rule": rule, "engines": {}}
        # Both engines at one `now`, so that a relative window can't move between them.
        at = timezone.now()
        with mock.patch("django.utils.timezone.now", return_value=at):
            for name in engines:
                ms, count = timed[name](rule, at)
                row["engines"][name] = {"ms": round(ms, 1), "count": count}
        row.update(row["engines"][engines[0]])
        results.append(row)
    reference = statistics.median([before, reference_ms(account)])
    per_engine = {
        name: engine_figures(
            [r["engines"][name]["ms"] for r in results],
            [r["engines"][name]["count"] for r in results],
            reference,
        )
        for name in engines
    }
    figures = {
        "seed": seed,
        "rules": rules,
        "engine": engine,
        **per_engine[engines[0]],
        "reference_ms": round(reference, 1),
        "load_average": " / ".join(f"{v:.1f}" for v in _load()),
        "engines": per_engine,
        "build": built,
        "engine_mismatches": [
            {"index": r["index"], "rule": r["rule"], **{n: c["count"] for n, c in r["engines"].items()}}
            for r in results
            if len(engines) > 1
            and None not in [c["count"] for c in r["engines"].values()]
            and len({c["count"] for c in r["engines"].values()}) > 1
        ],
    }
    figures["checked"], figures["mismatches"], figures["orm_sample"] = check_sample(
        account,
        drawn,
        results,
        seed=seed,
        now=now,
        rules=check,
        profiles=check_profiles,
        duckdb="duckdb" in engines,
    )
    return {"figures": figures, "results": results}


def check_sample(
    account, drawn, results, *, seed: int, now, rules: int, profiles: int, duckdb: bool = False
) -> tuple[int, list, list]:
    """Compare `rules` of the drawn rules with a second evaluation (see the module docstring);
    with `duckdb`, also the DuckDB engine's count with the database's at the same moment. Returns
    how many were checked, the mismatches, and the database's cold time and count of each."""
    rng = random.Random(seed)
    ids = list(
        Profile.objects.filter(account=account)
        .order_by("pk")
        .values_list("pk", flat=True)[:: max(1, _step(account, profiles))]
    )
    oracle = Oracle(account, now=now, profile_ids=ids[:profiles])
    mismatches, sample = [], []
    chosen = rng.sample(range(len(drawn)), min(rules, len(drawn)))
    for index in chosen:
        rule = drawn[index]
        queryset = selectors.rule_queryset(account=account, rule=rule, now=now)
        # Counted again next to the plain count: relative windows move with the clock, and the
        # timed count ran minutes earlier (an event crossing "65 days ago" meanwhile is no error).
        # All at one moment after it: `queryset` is compiled at the run's fixed `now` (the
        # oracle's), minutes before, so a relative window would have moved between them.
        at = timezone.now()
        with mock.patch("django.utils.timezone.now", return_value=at):
            ms, fast = timed_count(account, rule)
            plain = selectors.rule_queryset(account=account, rule=rule).count()
            duck = timed_duckdb_count(account, rule, now=at)[1] if duckdb else None
        sample.append({"index": index, "ms": round(ms, 1), "count": fast})
        if fast is not None and fast != plain:
            mismatches.append({"index": index, "rule": rule, "fast": fast, "queryset": plain})
        if duckdb and duck != plain:
            mismatches.append({"index": index, "rule": rule, "duckdb": duck, "queryset": plain})
        members = set(queryset.filter(pk__in=[p["id"] for p in oracle.profiles]).values_list("pk", flat=True))
        expected = oracle.matching(selectors.rule_clean(account=account, rule=rule))
        if members != expected:
            mismatches.append(
                {"index": index, "rule": rule, "members": len(members), "oracle": len(expected)}
            )
    return len(chosen), mismatches, sample


def _step(account: Account, profiles: int) -> int:
    return max(1, Profile.objects.filter(account=account).count() // profiles)


def _load() -> tuple[float, ...]:
    import os

    try:
        return os.getloadavg()
    except OSError:
        return ()


def suite_counts(account: Account) -> list[dict]:
    """The fixed suite once per rule, cold, after one warm-up run."""
    from benchmarks.segments_bench import SUITE

    rows = []
    for family, name, rule, _ in SUITE:
        selectors.rule_count(account=account, rule=rule, cached=False, timeout_ms=TIMEOUT_MS)
        ms, count = timed_count(account, rule)
        rows.append({"name": f"{family}: {name}", "ms": round(ms, 1), "count": count})
    return rows


def dnc_fill(account: Account, entries: int) -> int:
    """Give the account a Do Not Contact list of about `entries` entries (once; kept between runs):
    every 7th of its contacts' values, on a mix of channels ('' is every channel), plus two email
    domains. Returns how many entries were added."""
    from dnc.models import DncEntryAccount

    have = DncEntryAccount.objects.filter(account=account).count()
    if have >= entries:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH picked AS (
                SELECT kind, value, (ARRAY['', 'SMS', 'EMAIL', 'WHATSAPP'])[1 + (id %% 4)::int] AS channel
                FROM audience_contact WHERE account_id = %s AND id %% 7 = 0 ORDER BY id LIMIT %s
            ), domains AS (
                SELECT 'domain' AS kind, split_part(value, '@', 2) AS value, 'EMAIL' AS channel
                FROM audience_contact WHERE account_id = %s AND kind = 'email' AND id %% 101 = 0
                GROUP BY 2 ORDER BY count(*) LIMIT 2
            ), added AS (
                INSERT INTO dnc_dncentry (kind, value, sender, channel, created_at)
                SELECT kind, value, '', channel, now() FROM (SELECT * FROM picked UNION ALL SELECT * FROM domains) p
                ON CONFLICT DO NOTHING RETURNING id, kind, value, channel
            )
            INSERT INTO dnc_dncentryaccount
                (kind, value, sender, channel, source, campaign, added_at, account_id, entry_id)
            SELECT kind, value, '', channel, 'IMPORT', '', now(), %s, id FROM added
            """,
            [account.pk, entries - have, account.pk, account.pk],
        )
        added = cursor.rowcount
        cursor.execute("ANALYZE dnc_dncentryaccount")
    return added


def rule_words(rule: dict) -> str:
    return json.dumps(rule, separators=(",", ":"), default=str)


class Command(BaseCommand):
    help = "Time cold counts of generated rules (median, p95, max) against count(*), and check a sample."

    def add_arguments(self, parser):
        parser.add_argument(
            "--account", default="", help="account name (default: the one with most profiles)"
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="the generator's seed (default: a new one)"
        )
        parser.add_argument("--rules", type=int, default=200)
        parser.add_argument("--check", type=int, default=20, help="how many rules to check")
        parser.add_argument("--slowest", type=int, default=10, help="print this many slowest rules")
        parser.add_argument("--no-suite", action="store_true", help="skip the fixed suite")
        parser.add_argument("--json", default="", help="write every rule's time and count here")
        parser.add_argument(
            "--engine",
            choices=["orm", "duckdb", "both"],
            default="orm",
            help="count with the database (orm), the DuckDB engine, or both side by side",
        )
        parser.add_argument(
            "--no-build",
            action="store_true",
            help="count from the account's DuckDB file as it is (built earlier: counts_engine_build)",
        )
        parser.add_argument(
            "--dnc-entries",
            type=int,
            default=0,
            help="first fill the account's Do Not Contact list to this many",
        )

    def handle(self, *args, **options):
        from benchmarks.segments_bench import Command as Suite

        account = Suite()._account(options["account"])
        if options["dnc_entries"]:
            self.stdout.write(f"Do Not Contact entries added: {dnc_fill(account, options['dnc_entries']):,}")
        seed = options["seed"] if options["seed"] is not None else random.SystemRandom().randrange(10**9)
        self.stdout.write(
            f"{connection.vendor}, account {account.name}, seed {seed}, {options['rules']} rules"
        )
        run = generated_counts(
            account,
            seed=seed,
            rules=options["rules"],
            check=options["check"],
            engine=options["engine"],
            build=not options["no_build"],
        )
        f = run["figures"]
        if f["build"]:
            b = f["build"]
            rows = ", ".join(f"{table} {count:,}" for table, count in b["rows"].items())
            self.stdout.write(f"DuckDB file built in {b['seconds']} s, {b['megabytes']} MB ({rows})")
        self.stdout.write(
            f"generated rules (seed {seed}), cold; reference count(*) {f['reference_ms']} ms; load {f['load_average']}"
        )
        self.stdout.write(
            f"  {'engine':<8} {'median':>10} {'p95':>10} {'max':>10} {'× count(*)':>11} timeouts"
        )
        for name, e in f["engines"].items():
            self.stdout.write(
                f"  {name:<8} {e['median_ms']:>7.1f} ms {e['p95_ms']:>7.1f} ms {e['max_ms']:>7.1f} ms "
                f"{e['ratio']:>10.1f}× {e['timeouts']:>8}"
            )
        if len(f["engines"]) > 1:
            self.stdout.write(f"every rule counted by both engines: {len(f['engine_mismatches'])} mismatches")
            for mismatch in f["engine_mismatches"]:
                self.stdout.write(f"  ENGINE MISMATCH {rule_words(mismatch)}")
        self.stdout.write(
            f"checked {f['checked']} rules against a second evaluation: {len(f['mismatches'])} mismatches"
        )
        for mismatch in f["mismatches"]:
            self.stdout.write(f"  MISMATCH {rule_words(mismatch)}")
        if f["orm_sample"] and "orm" not in f["engines"]:
            times = [row["ms"] for row in f["orm_sample"]]
            self.stdout.write(
                f"  the database (orm) on those {len(times)}, cold: median {statistics.median(times):.1f} ms,"
                f" max {max(times):.1f} ms; the DuckDB counts were compared with its"
            )
        for name in f["engines"]:
            self.stdout.write(f"slowest ({name}):")
            slowest = sorted(run["results"], key=lambda r: -r["engines"][name]["ms"])[: options["slowest"]]
            for row in slowest:
                e = row["engines"][name]
                self.stdout.write(
                    f"  {e['ms']:>8.1f} ms {e['count']!s:>9}  #{row['index']} {rule_words(row['rule'])}"
                )
        if not options["no_suite"]:
            self.stdout.write("fixed suite (cold, once each after a warm-up):")
            for row in suite_counts(account):
                self.stdout.write(f"  {row['name']:<60} {row['ms']:>8.1f} ms {row['count']!s:>9}")
        if options["json"]:
            with open(options["json"], "w") as out:
                json.dump(run, out, indent=1, default=str)
        if f["mismatches"] or f["engine_mismatches"]:
            raise SystemExit(1)
