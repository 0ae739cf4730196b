"""Scale data generated inside PostgreSQL (`manage.py seed_demo --in-database`): the 10M tier.

`audience.demo` draws every value in Python and COPYs the rows: 1M profiles with 10M events take
30–85 minutes on two cores, 10M / 100M would take most of a day. Here each chunk of profiles is
one `INSERT … SELECT` over `generate_series`, and its contacts and events two more, so no row
passes through Python. The rows have seed_demo's shape and value domains — the same attribute and
event definitions, property keys, word lists, weights and ranges, contact formats (so Do Not
Contact entries can match them) — not its exact values: the random numbers differ.

Random numbers are a hash of (seed, profile id, purpose) (`hashint8extended`), so a row depends
only on the seed, its id and `now`: chunks can be written in any order, by several connections
at once (`workers`), and the same seed, ids and `now` give the same rows.

Secondary indexes of the four big tables (profiles, contacts, events, the event summary,
including the custom attribute and event property indexes) are dropped for the load and built
again from their own definitions afterwards; the event summary is rebuilt once, the sequences
moved past the new ids, and the tables analysed, so what the count engines need exists when it
returns. As a superuser the load runs with `session_replication_role = replica` (no per-row
foreign key checks, no summary or account-check triggers: the rows are consistent by
construction); otherwise the triggers run with the summary skipped, as in `audience.demo`.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from audience import counting, demo, summary
from audience import demo_data as data
from audience.fields import FIELD_NAMES
from audience.models import Company, Contact, Event, EventSummary, Profile
from segments import indexes as rule_indexes

CHUNK = 250_000  # profiles per statement (about 2.5M events at 10 each)
TABLES = (Profile, Contact, Event, EventSummary)


def _u(key: str, slot: int, seed: str = "seed") -> str:
    """SQL: a uniform float in [0, 1) from the seed (bound as %(seed)s), `key` and `slot`."""
    return (
        f"(((hashint8extended(({key}) * 64 + {slot}, %({seed})s) >> 11) & 9007199254740991)::float8"
        " / 9007199254740992.0)"
    )


def _text_array(values) -> str:
    return "ARRAY[" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + "]::text[]"


def _pick(values, u: str) -> str:
    """SQL: one of `values`, uniformly, by the uniform number `u`."""
    return f"({_text_array(values)})[1 + floor({u} * {len(values)})::int]"


def _quantiles(weights: list[float], size: int) -> list[int]:
    """Indices 0..n-1 laid out in `size` slots in proportion to `weights` (a table to pick by a
    uniform number, as random.choices does with weights)."""
    total = sum(weights)
    table: list[int] = []
    cumulative = 0.0
    for index, weight in enumerate(weights):
        cumulative += weight
        while len(table) < round(size * cumulative / total):
            table.append(index)
    return table


def _int_array(values) -> str:
    return "ARRAY[" + ", ".join(str(int(v)) for v in values) + "]::int[]"


# Countries are picked with Zipf-like weights (as demo._weighted), cities by a Pareto index.
COUNTRY_TABLE = _quantiles([1 / (i + 1) for i in range(len(data.COUNTRIES))], 1000)
EVENT_TABLE = _quantiles([weight for _, weight, _ in data.EVENTS], 1000)


def _profile_sql() -> str:
    """INSERT the profiles with ids %(first)s..%(last)s. Slots 0–29 of each id's random numbers."""
    u = {slot: _u("p", slot) for slot in range(30)}
    city = f"least(floor(power(1 - {u[2]}, -1 / 1.2))::int, array_length(c.cities, 1))"
    female = f"({u[3]} < 0.5)"
    standard = {
        "external_id": "'C' || CASE WHEN p < 100000000 THEN lpad(p::text, 8, '0') ELSE p::text END",
        "type": f"CASE WHEN {u[4]} < 0.3 THEN 'customer' ELSE 'lead' END",
        "first_name": f"CASE WHEN {female} THEN {_pick(data.FIRST_NAMES_FEMALE, u[5])} "
        f"ELSE {_pick(data.FIRST_NAMES_MALE, u[5])} END",
        "middle_name": f"CASE WHEN {u[6]} < 0.9 THEN '' ELSE {_pick(data.FIRST_NAMES_MALE, u[7])} END",
        "last_name": _pick(data.LAST_NAMES, u[8]),
        "gender": f"CASE WHEN {u[9]} < 0.08 THEN '' WHEN {female} THEN 'female' ELSE 'male' END",
        "birth_date": f"CASE WHEN {u[10]} < 0.15 THEN NULL "
        f"ELSE DATE '1950-01-01' + floor({u[11]} * {365 * 55})::int END",
        "city": f"c.cities[{city}]",
        "country": "c.name",
        "address": f"CASE WHEN {u[12]} < 0.5 THEN '' "
        f"ELSE (1 + floor({u[13]} * 199))::int || ' ' || {_pick(data.STREETS, u[14])} END",
        "preferred_language": _pick(data.LANGUAGES, u[15]),
    }
    orders = f"floor(-ln(1 - {u[19]}) / 0.15)::int"
    login = f"%(now)s - make_interval(secs => floor({u[25]} * {120 * 86400}))"
    attributes = (
        "jsonb_strip_nulls(jsonb_build_object("
        f"'loyalty_tier', CASE WHEN {u[16]} < 0.7 THEN "
        f"({_text_array(data.TIERS)})[1 + least(floor(-ln(1 - {u[17]}) / 1.2)::int, 3)] END, "
        f"'orders', CASE WHEN {u[18]} < 0.8 THEN {orders} END, "
        f"'spend', CASE WHEN {u[18]} < 0.8 THEN round(({orders} * (5 + {u[20]} * 115))::numeric, 2) END, "
        f"'newsletter', CASE WHEN {u[21]} < 0.9 THEN {u[22]} < 0.4 END, "
        f"'contract_expiry', CASE WHEN {u[23]} < 0.5 THEN "
        f"to_char(%(today)s::date + (floor({u[24]} * 600)::int - 200), 'YYYY-MM-DD') END, "
        f"'last_login', CASE WHEN {u[26]} < 0.6 THEN "
        f"to_char(({login}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') END))"
    )
    company = (
        f"CASE WHEN cardinality(%(companies)s::bigint[]) > 0 AND {u[27]} < 0.3 THEN "
        f"(%(companies)s::bigint[])[1 + floor({u[28]} * cardinality(%(companies)s::bigint[]))::int] END"
    )
    created = f"%(now)s - make_interval(secs => floor({u[29]} * {730 * 86400}))"
    countries = ", ".join(
        f"({index}, '{name}', {phone_base}, {_text_array(cities)})"
        for index, (name, phone_base, cities) in enumerate(data.COUNTRIES)
    )
    columns = ", ".join(demo.PROFILE_COLUMNS)
    values = ", ".join(
        ["p", "%(account)s", *[standard[name] for name in FIELD_NAMES], company, attributes, "t.created"]
    )
    return (
        f"INSERT INTO {Profile._meta.db_table} ({columns}) "
        f"SELECT {values}, t.created FROM generate_series(%(first)s::bigint, %(last)s::bigint) p "
        f"CROSS JOIN LATERAL (SELECT {created} AS created, "
        f"({_int_array(COUNTRY_TABLE)})[1 + floor({u[1]} * {len(COUNTRY_TABLE)})::int] AS country) t "
        f"JOIN (VALUES {countries}) c (index, name, phone_base, cities) ON c.index = t.country"
    )


def _contact_sql() -> str:
    """INSERT the contacts of profiles %(first)s..%(last)s, from their rows (slots 30–32): a phone
    for 90% (below demo.PHONE_RANGE, as seed_demo), an email for 75%, unique by the profile id."""
    u = {slot: _u("p.id", slot) for slot in range(30, 33)}
    phone_bases = ", ".join(f"('{name}', {base})" for name, base, _ in data.COUNTRIES)
    email = f"lower(p.first_name || '.' || p.last_name || p.id || '@' || {_pick(data.EMAIL_DOMAINS, u[32])})"
    columns = ", ".join(demo.CONTACT_COLUMNS)
    return (
        f"INSERT INTO {Contact._meta.db_table} ({columns}) "
        f"SELECT p.account_id, p.id, 'phone', '+' || (b.base + p.id), p.created_at "
        f"FROM {Profile._meta.db_table} p JOIN (VALUES {phone_bases}) b (name, base) ON b.name = p.country "
        f"WHERE p.id BETWEEN %(first)s AND %(last)s AND p.id < {demo.PHONE_RANGE} AND {u[30]} < 0.9 "
        f"UNION ALL SELECT p.account_id, p.id, 'email', {email}, p.created_at "
        f"FROM {Profile._meta.db_table} p WHERE p.id BETWEEN %(first)s AND %(last)s AND {u[31]} < 0.75"
    )


def _properties(index: int, u: Callable[[int], str]) -> str:
    """SQL: the properties of an event of data.EVENTS[index] (as demo._event_properties)."""
    cat = _pick(data.CATEGORIES, u(1))
    return {
        0: f"jsonb_build_object('platform', {_pick(data.PLATFORMS, u(1))}, "
        f"'app_version', '3.' || floor({u(2)} * 12)::int)",
        1: f"jsonb_build_object('page', {_pick(data.PAGES, u(1))}, "
        f"'duration_seconds', 1 + floor({u(2)} * 599)::int)",
        2: f"jsonb_build_object('campaign', 'Newsletter ' || (1 + floor({u(1)} * 12)::int))",
        3: f"jsonb_build_object('category', {cat}, 'price', round((2 + {u(2)} * 398)::numeric, 2))",
        4: f"jsonb_build_object('category', {cat}, 'amount', round((5 + {u(2)} * 895)::numeric, 2), "
        f"'first_order', {u(3)} < 0.1)",
        5: f"jsonb_build_object('query', lower({cat}))",
        6: f"jsonb_build_object('topic', {_pick(('billing', 'delivery', 'returns'), u(1))}, "
        f"'priority', 1 + floor({u(2)} * 3)::int)",
        7: f"jsonb_build_object('plan', {_pick(('basic', 'plus', 'pro'), u(1))}, "
        f"'renews_on', to_char(%(today)s::date + floor({u(2)} * 365)::int, 'YYYY-MM-DD'))",
        8: f"jsonb_build_object('rating', 1 + floor({u(1)} * 5)::int)",
    }[index]


def _event_sql() -> str:
    """INSERT the events of profiles %(first)s..%(last)s: per profile an exponential number with
    mean %(per_profile)s (at most 8×, as seed_demo), each with its own random numbers (key
    profile id × 1024 + its number), in the last 90 days, in profile order."""
    how_many = f"least(floor(-ln(1 - {_u('p', 33)}) * %(per_profile)s + 0.5)::int, %(per_profile)s * 8, 1023)"
    key = "p * 1024 + n"

    def u(slot: int) -> str:  # the events' own stream (another seed), apart from the profiles'
        return _u(key, slot, "event_seed")

    names = _text_array(name for name, _, _ in data.EVENTS)
    properties = "CASE e.kind " + " ".join(
        f"WHEN {index} THEN {_properties(index, lambda slot: u(3 + slot))}"
        for index in range(len(data.EVENTS))
    )
    columns = ", ".join(demo.EVENT_COLUMNS)
    # The chunk's summary rows come from the inserted rows themselves (its profiles are new): one
    # grouping of a few million rows per chunk instead of one of the whole table at the end.
    return (
        f"WITH inserted AS (INSERT INTO {Event._meta.db_table} ({columns}) "
        f"SELECT %(account)s, p, ({names})[1 + e.kind], "
        f"%(now)s - make_interval(secs => floor({u(2)} * {90 * 86400})), {properties} END, '' "
        "FROM generate_series(%(first)s::bigint, %(last)s::bigint) p "
        f"CROSS JOIN LATERAL generate_series(1, {how_many}) n "
        f"CROSS JOIN LATERAL (SELECT ({_int_array(EVENT_TABLE)})[1 + floor({u(1)} * "
        f"{len(EVENT_TABLE)})::int] AS kind) e "
        "RETURNING profile_id, name, occurred_at), "
        f"summarised AS (INSERT INTO {EventSummary._meta.db_table} ({summary.COLUMNS}) "
        "SELECT %(account)s, profile_id, name, count(*), min(occurred_at), max(occurred_at) FROM inserted "
        "GROUP BY profile_id, name) "
        "SELECT count(*) FROM inserted"
    )


def _secondary_indexes(cursor) -> list[tuple[str, str]]:
    """(name, CREATE INDEX) of every index of the big tables that backs no constraint."""
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = ANY(%s::regclass[]) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
        "ORDER BY i.indrelid, i.indexrelid",
        [[model._meta.db_table for model in TABLES]],
    )
    return list(cursor.fetchall())


def seed(
    *,
    profiles: int,
    events_per_profile: int,
    seed: int,
    account_name: str = demo.DEMO_ACCOUNT,
    workers: int = 1,
    property_indexes: bool = True,
    chunk: int = CHUNK,
    now: dt.datetime | None = None,
    progress: Callable[[str], None] = lambda text: None,
) -> demo.SeedReport:
    """Add `profiles` profiles and about `events_per_profile` events each to the account, generated
    by PostgreSQL; `workers` connections write chunks at once (1 inside a transaction). Without
    `property_indexes` the event property indexes (segments_evprop_*, about as big as the events
    themselves) are left for `manage.py segments_indexes`: counts stay exact, and the PostgreSQL
    engine is slower on property conditions until then; the DuckDB engine does not use them."""
    if connection.vendor != "postgresql":
        raise RuntimeError("generation inside the database needs PostgreSQL; use seed_demo without it")
    now = (now or timezone.now()).replace(microsecond=0)
    account = demo.demo_account_get_or_create(name=account_name)
    report = demo.SeedReport(account=account)
    demo._definitions(account)
    company_ids = demo._companies(account, random.Random(seed), max(5, min(500, profiles // 200)))
    report.companies = len(company_ids)
    first_id = (Profile.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    if connection.in_atomic_block:
        workers = 1  # other connections would not see this transaction's account
    params: dict[str, Any] = {
        "seed": seed,
        "event_seed": seed ^ 0x5EED,
        "account": account.pk,
        "now": now,
        "today": now.date(),
        "companies": company_ids,
        "per_profile": events_per_profile,
    }
    statements = {"profiles": _profile_sql(), "contacts": _contact_sql(), "events": _event_sql()}
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        superuser = bool(cursor.fetchone()[0])
        indexes = _secondary_indexes(cursor)
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    progress(f"dropped {len(indexes)} secondary indexes; writing with {workers} connection(s)")

    chunks = [
        (start, min(start + chunk, first_id + profiles) - 1)
        for start in range(first_id, first_id + profiles, chunk)
    ]

    def write(ids: tuple[int, int]) -> tuple[int, int]:
        """One chunk of profile ids in one transaction, on this thread's connection."""
        counts = []
        with transaction.atomic(), connection.cursor() as cursor:
            role = "replica" if superuser else "origin"
            cursor.execute("SELECT set_config('session_replication_role', %s, true)", [role])
            cursor.execute("SELECT set_config(%s, 'on', true)", [summary.SKIP_SETTING])
            cursor.execute("SET LOCAL work_mem = '256MB'")
            for name, statement in statements.items():
                cursor.execute(statement, {**params, "first": ids[0], "last": ids[1]})
                counts.append(cursor.fetchone()[0] if name == "events" else cursor.rowcount)
            cursor.execute("SELECT set_config('session_replication_role', 'origin', true)")
            cursor.execute("SELECT set_config(%s, 'off', true)", [summary.SKIP_SETTING])
        if workers > 1:
            connection.close()  # this thread's
        return counts[1], counts[2]

    with ThreadPoolExecutor(workers) as pool:
        results = map(write, chunks) if workers == 1 else pool.map(write, chunks)
        for (start, last), (contacts, events) in zip(chunks, results, strict=True):
            report.profiles += last - start + 1
            report.contacts += contacts
            report.events += events
            progress(
                f"{report.profiles:,} profiles, {report.contacts:,} contacts, {report.events:,} events "
                f"({time.monotonic() - started:.0f} s)"
            )
    report.seconds["rows"] = time.monotonic() - started

    with connection.cursor() as cursor:
        cursor.execute("SET work_mem = '512MB'")
        cursor.execute("SET maintenance_work_mem = '1GB'")
        progress(f"building {len(indexes)} indexes")
        mark = time.monotonic()
        for name, definition in indexes:
            if name.startswith(rule_indexes.EVENT_PREFIX) and not property_indexes:
                continue
            cursor.execute(definition)
            progress(f"  {name} ({time.monotonic() - mark:.0f} s)")
        report.seconds["indexes"] = time.monotonic() - mark
        for model in (Profile, Contact, Event, Company):
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        progress("analysing")
        mark = time.monotonic()
        analyze = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        for table in (model._meta.db_table for model in TABLES):
            cursor.execute(f"{analyze} {table}")
        report.seconds["analyze"] = time.monotonic() - mark
        cursor.execute("RESET work_mem")
        cursor.execute("RESET maintenance_work_mem")
    counting.data_changed(account_ids=[account.pk])
    report.seconds["load"] = time.monotonic() - started
    return report
