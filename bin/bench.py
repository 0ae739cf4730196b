#!/usr/bin/env python
"""Measure Audience against the machine's own limits (`make bench`, `make bench-small`).

Seeds (once, reused) an account with N profiles and ~10 events each, then measures each figure as
the median and p95 of repeated runs, next to a reference the machine allows measured in the same
run (a plain count(*), a raw COPY in or out), and writes JSON and a Markdown table to
docs/benchmarks/. PostgreSQL and Redis come from the environment (DATABASE_URL, CELERY_BROKER_URL).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "audience.settings")

import django  # noqa: E402

django.setup()

from bench_sections import COUNTS_OPTIONS, SECTIONS  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from audience import demo  # noqa: E402
from audience.models import Account, Profile  # noqa: E402

BENCH_ACCOUNT = "Bench"


def ensure_data(profiles: int, events_per_profile: int, name: str = BENCH_ACCOUNT) -> Account:
    account = Account.objects.filter(name=name).first()
    have = Profile.objects.filter(account=account).count() if account else 0
    if have < profiles:
        print(f"seeding {profiles - have:,} profiles into {name!r} (once; reused later)")
        demo.seed_demo(
            profiles=profiles - have,
            events_per_profile=events_per_profile,
            seed=1,
            account_name=name,
            progress=lambda text: print("  " + text),
        )
        account = Account.objects.get(name=name)
    # The rule indexes of custom attributes and event properties, which a Celery task builds when
    # a definition is committed (no worker may have run since seeding): measure the designed state.
    if connection.vendor == "postgresql":
        call_command("segments_indexes")
    return account


def machine() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()" if connection.vendor == "postgresql" else "SELECT sqlite_version()")
        db_version = cursor.fetchone()[0]
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "django": django.get_version(),
        "database": db_version,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average": _load(),
    }


def _load() -> str:
    """The 1/5/15-minute load average: on a shared machine, how much else was running."""
    try:
        return " / ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def merge_previous(results: dict, path: Path, ran: set[str]) -> None:
    """Keep the rows of sections not run this time (`--only`) from the previous report, each with
    the date and load it was measured at, so one slow section can be re-measured alone."""
    if not path.exists():
        return
    previous = json.loads(path.read_text())
    kept = [row for row in previous.get("rows", []) if row.get("section") not in ran]
    for row in kept:
        row.setdefault("measured_at", previous["machine"]["date"])
        row.setdefault("load_average", previous["machine"].get("load_average", "unknown"))
    results["rows"] = kept + results["rows"]


def write_report(results: dict, out_dir: Path, label: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{label}.json").write_text(json.dumps(results, indent=2, default=str))
    lines = [
        f"# Benchmark: {label}",
        "",
        f"{results['machine']['date']} · {results['profiles']:,} profiles · Python {results['machine']['python']} · "
        f"Django {results['machine']['django']} · {results['machine']['cpus']} CPUs",
        "",
        f"Database: {results['machine']['database']}",
        "",
        "Each section's date and the machine's load average (1/5/15 min) when it was measured: the "
        "machine is shared, so compare the ratios to the reference of the same run, not the times.",
        "",
        "| section | measured | load | figure | median | p95 | reference | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['section']} | {row.get('measured_at', '')[:16]} | {row.get('load_average', '')} | "
            f"{row['name']} | {row.get('median', '')} | {row.get('p95', '')} | "
            f"{row.get('reference', '')} | {row.get('ratio', '')} |"
        )
    path = out_dir / f"{label}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--events-per-profile", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--label", default="")
    parser.add_argument("--only", action="append", default=[], help="run only these sections")
    parser.add_argument("--account", default=BENCH_ACCOUNT, help="measure this account (seeded when short)")
    parser.add_argument(
        "--seed", type=int, default=None, help="counts: the rule generator's seed (default: new)"
    )
    parser.add_argument("--rules", type=int, default=200, help="counts: how many generated rules")
    parser.add_argument(
        "--engine",
        choices=["orm", "duckdb", "both"],
        default="orm",
        help="counts: the database (orm), the DuckDB count engine, or both side by side",
    )
    args = parser.parse_args()
    COUNTS_OPTIONS.update(seed=args.seed, rules=args.rules, engine=args.engine)

    account = ensure_data(args.profiles, args.events_per_profile, args.account)
    label = args.label or ("latest" if args.profiles >= 1_000_000 else f"small-{args.profiles}")
    results = {"machine": machine(), "profiles": args.profiles, "rows": []}
    for name, fn in SECTIONS:
        if args.only and name not in args.only:
            continue
        print(f"== {name}")
        try:
            rows = fn(account=account, repeat=args.repeat, profiles=args.profiles)
        except Exception as error:  # a broken section is reported, the others still run
            rows = [{"name": "error", "median": f"{error.__class__.__name__}: {error}"}]
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        for row in rows:
            row["section"] = name
            row["measured_at"] = stamp
            row["load_average"] = _load()
            print("   ", {k: v for k, v in row.items() if k != "section"})
        results["rows"].extend(rows)
    if args.only:
        merge_previous(results, ROOT / "docs" / "benchmarks" / f"{label}.json", set(args.only))
    path = write_report(results, ROOT / "docs" / "benchmarks", label)
    print(f"wrote {path} and {path.with_suffix('.json')}")
    if any(row.get("name") == "error" for row in results["rows"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
