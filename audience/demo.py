"""Realistic, reproducible demo and scale data for one account (`manage.py seed_demo`).

Rows are generated as plain tuples and streamed: through COPY on PostgreSQL (1M profiles and 10M
events in minutes), through `bulk_create` elsewhere. Profile ids are assigned here so contacts and
events can point at them without a round trip; sequences are moved past them afterwards.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from audience import counting, services, summary
from audience import demo_data as data
from audience.fields import FIELD_NAMES
from audience.models import (
    Account,
    AttributeDefinition,
    Company,
    Contact,
    Event,
    EventDefinition,
    EventSummary,
    Profile,
    Role,
)

DEMO_ACCOUNT = "Demo"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"
CHUNK = 20_000
PHONE_RANGE = 8_000_000


@dataclass
class SeedReport:
    account: Account
    profiles: int = 0
    contacts: int = 0
    events: int = 0
    companies: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def demo_account_get_or_create(*, name: str = DEMO_ACCOUNT) -> Account:
    account = Account.objects.filter(name=name).first()
    if account is None:
        account = services.account_create(name=name, time_zone="Europe/London")
    User = get_user_model()
    if name == DEMO_ACCOUNT:
        user, created = User.objects.get_or_create(username=DEMO_USERNAME)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.is_staff = user.is_superuser = True
            user.save()
        services.membership_set(account=account, user=user, role=Role.ADMIN)
    return account


def _weighted(rng: random.Random, n: int) -> list[int]:
    """Indices 0..n-1 with Zipf-like weights, for skewed choices."""
    return rng.choices(range(n), weights=[1 / (i + 1) for i in range(n)], k=4096)


def _definitions(account: Account) -> None:
    for name, type_ in data.CUSTOM_ATTRIBUTES:
        AttributeDefinition.objects.get_or_create(account=account, name=name, defaults={"type": type_})
    for name, _, properties in data.EVENTS:
        definition, created = EventDefinition.objects.get_or_create(
            account=account, name=name, defaults={"properties": properties}
        )
        if not created and not definition.properties:
            definition.properties = properties
            definition.save(update_fields=["properties"])


def _companies(account: Account, rng: random.Random, count: int) -> list[int]:
    existing = set(Company.objects.for_account(account).values_list("name", flat=True))
    new = []
    for i in range(count):
        name = f"{rng.choice(data.COMPANY_WORDS)} {rng.choice(data.COMPANY_SUFFIXES)} {i + 1}"
        country = rng.choice(data.COUNTRIES)[0]
        industry = rng.choice(data.INDUSTRIES)
        if name in existing:
            continue
        new.append(
            Company(
                account=account,
                name=name,
                domain=f"{name.split()[0].lower()}{i + 1}.example.com",
                country=country,
                industry=industry,
            )
        )
    Company.objects.bulk_create(new)
    return list(Company.objects.for_account(account).values_list("id", flat=True))


PROFILE_COLUMNS = ["id", "account_id", *FIELD_NAMES, "company_id", "attributes", "created_at", "modified_at"]
CONTACT_COLUMNS = ["account_id", "profile_id", "kind", "value", "created_at"]
EVENT_COLUMNS = ["account_id", "profile_id", "name", "occurred_at", "properties", "event_id"]


def _profile_rows(
    account: Account, rng: random.Random, first_id: int, count: int, company_ids: list[int], now: dt.datetime
) -> Iterator[tuple[tuple, list[tuple]]]:
    country_pick = _weighted(rng, len(data.COUNTRIES))
    tz = dt.UTC
    for n in range(count):
        pid = first_id + n
        country, phone_base, cities = data.COUNTRIES[country_pick[rng.randrange(4096)]]
        city = cities[min(int(rng.paretovariate(1.2)) - 1, len(cities) - 1)]
        female = rng.random() < 0.5
        first = rng.choice(data.FIRST_NAMES_FEMALE if female else data.FIRST_NAMES_MALE)
        last = rng.choice(data.LAST_NAMES)
        gender = "" if rng.random() < 0.08 else ("female" if female else "male")
        birth = (
            None if rng.random() < 0.15 else dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 55))
        )
        created = now - dt.timedelta(seconds=rng.randrange(730 * 86400))
        attributes = {}
        if rng.random() < 0.7:
            attributes["loyalty_tier"] = data.TIERS[min(int(rng.expovariate(1.2)), 3)]
        if rng.random() < 0.8:
            orders = int(rng.expovariate(0.15))
            attributes["orders"] = orders
            attributes["spend"] = round(orders * rng.uniform(5, 120), 2)
        if rng.random() < 0.9:
            attributes["newsletter"] = rng.random() < 0.4
        if rng.random() < 0.5:
            attributes["contract_expiry"] = (
                now.date() + dt.timedelta(days=rng.randrange(-200, 400))
            ).isoformat()
        if rng.random() < 0.6:
            seen = now - dt.timedelta(seconds=rng.randrange(120 * 86400))
            attributes["last_login"] = seen.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%SZ")
        standard = {
            "external_id": f"C{pid:08d}",
            "type": "customer" if rng.random() < 0.3 else "lead",
            "first_name": first,
            "middle_name": "" if rng.random() < 0.9 else rng.choice(data.FIRST_NAMES_MALE),
            "last_name": last,
            "gender": gender,
            "birth_date": birth,
            "city": city,
            "country": country,
            "address": "" if rng.random() < 0.5 else f"{rng.randrange(1, 200)} {rng.choice(data.STREETS)}",
            "preferred_language": rng.choice(data.LANGUAGES),
        }
        company = rng.choice(company_ids) if company_ids and rng.random() < 0.3 else None
        # In PROFILE_COLUMNS' order.
        profile = (
            pid,
            account.pk,
            *[standard[name] for name in FIELD_NAMES],
            company,
            attributes,
            created,
            created,
        )
        contacts = []
        # Every generated base stays a valid number for offsets below PHONE_RANGE.
        if rng.random() < 0.9 and pid < PHONE_RANGE:
            contacts.append((account.pk, pid, "phone", f"+{phone_base + pid}", created))
        if rng.random() < 0.75:
            domain = rng.choice(data.EMAIL_DOMAINS)
            contacts.append((account.pk, pid, "email", f"{first}.{last}{pid}@{domain}".lower(), created))
        yield profile, contacts


def _event_rows(
    account: Account, rng: random.Random, first_id: int, count: int, per_profile: int, now: dt.datetime
) -> Iterator[tuple]:
    names = [name for name, _, _ in data.EVENTS]
    weights = [weight for _, weight, _ in data.EVENTS]
    pick = rng.choices(range(len(names)), weights=weights, k=8192)
    window = 90 * 86400
    for n in range(count):
        pid = first_id + n
        # Activity is skewed: many quiet profiles, a few very active ones; mean = per_profile.
        how_many = min(int(rng.expovariate(1 / per_profile) + 0.5), per_profile * 8) if per_profile else 0
        for _ in range(how_many):
            name_index = pick[rng.randrange(8192)]
            when = now - dt.timedelta(seconds=rng.randrange(window))
            yield (account.pk, pid, names[name_index], when, _event_properties(rng, name_index, now), "")


def _event_properties(rng: random.Random, index: int, now: dt.datetime) -> dict:
    if index == 0:
        return {"platform": rng.choice(data.PLATFORMS), "app_version": f"3.{rng.randrange(12)}"}
    if index == 1:
        return {"page": rng.choice(data.PAGES), "duration_seconds": rng.randrange(1, 600)}
    if index == 2:
        return {"campaign": f"Newsletter {rng.randrange(1, 13)}"}
    if index == 3:
        return {"category": rng.choice(data.CATEGORIES), "price": round(rng.uniform(2, 400), 2)}
    if index == 4:
        return {
            "category": rng.choice(data.CATEGORIES),
            "amount": round(rng.uniform(5, 900), 2),
            "first_order": rng.random() < 0.1,
        }
    if index == 5:
        return {"query": rng.choice(data.CATEGORIES).lower()}
    if index == 6:
        return {"topic": rng.choice(("billing", "delivery", "returns")), "priority": rng.randrange(1, 4)}
    if index == 7:
        return {
            "plan": rng.choice(("basic", "plus", "pro")),
            "renews_on": (now.date() + dt.timedelta(days=rng.randrange(365))).isoformat(),
        }
    return {"rating": rng.randrange(1, 6)}


def seed_demo(
    *,
    profiles: int,
    events_per_profile: int,
    seed: int,
    account_name: str = DEMO_ACCOUNT,
    progress: Callable[[str], None] = lambda text: None,
) -> SeedReport:
    """Add `profiles` profiles (and about `events_per_profile` events each) to the demo account."""
    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=0)
    account = demo_account_get_or_create(name=account_name)
    report = SeedReport(account=account)
    _definitions(account)
    company_ids = _companies(account, rng, max(5, min(500, profiles // 200)))
    report.companies = len(company_ids)
    first_id = (Profile.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    writer = _CopyWriter() if connection.vendor == "postgresql" else _OrmWriter()
    # Maintaining the event indexes row by row costs more than building them once at the end.
    rebuild = connection.vendor == "postgresql" and profiles * events_per_profile >= 1_000_000
    if rebuild:
        _event_indexes(drop=True)
    # The event summary's triggers would upsert once per chunk; one rebuild at the end is cheaper.
    skipped = summary.triggers_skipped(True)
    started = timezone.now()
    try:
        _load(
            account, rng, first_id, profiles, events_per_profile, company_ids, now, writer, report, progress
        )
    finally:
        summary.triggers_skipped(False)
    if skipped:
        progress("summarising events")
        summary.rebuild(account)
    if rebuild:
        progress("building event indexes")
        _event_indexes(drop=False)
    writer.finish()
    counting.data_changed(account_ids=[account.pk])  # the loader writes past the services
    report.seconds["load"] = (timezone.now() - started).total_seconds()
    return report


def _load(
    account, rng, first_id, profiles, events_per_profile, company_ids, now, writer, report, progress
) -> None:
    done = 0
    while done < profiles:
        size = min(CHUNK, profiles - done)
        profile_rows, contact_rows = [], []
        for profile, contacts in _profile_rows(account, rng, first_id + done, size, company_ids, now):
            profile_rows.append(profile)
            contact_rows.extend(contacts)
        event_rows = _event_rows(account, rng, first_id + done, size, events_per_profile, now)
        with transaction.atomic():
            writer.write(Profile, PROFILE_COLUMNS, profile_rows)
            writer.write(Contact, CONTACT_COLUMNS, contact_rows)
            report.events += writer.write(Event, EVENT_COLUMNS, event_rows)
        done += size
        report.profiles = done
        report.contacts += len(contact_rows)
        progress(f"{done:,} profiles, {report.events:,} events")


def _event_indexes(*, drop: bool) -> None:
    with connection.schema_editor() as editor:
        for index in Event._meta.indexes:
            if drop:
                editor.execute(f"DROP INDEX IF EXISTS {editor.quote_name(index.name)}")
            else:
                editor.execute(f"DROP INDEX IF EXISTS {editor.quote_name(index.name)}")
                editor.add_index(Event, index)


class _OrmWriter:
    """The generic path (SQLite): bulk_create in batches."""

    def write(self, model, columns: list[str], rows) -> int:
        count = 0
        batch = []
        for row in rows:
            batch.append(model(**dict(zip(columns, row, strict=True))))
            if len(batch) >= 2000:
                model.objects.bulk_create(batch)
                count += len(batch)
                batch = []
        model.objects.bulk_create(batch)
        return count + len(batch)

    def finish(self) -> None:
        pass


class _CopyWriter:
    """PostgreSQL: COPY in text format, built in blocks (faster than one write_row per row)."""

    def write(self, model, columns: list[str], rows) -> int:
        table = model._meta.db_table
        count = 0
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            buffer = io.StringIO()
            for row in rows:
                buffer.write("\t".join(_copy_value(v) for v in row))
                buffer.write("\n")
                count += 1
                if count % 20_000 == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        return count

    def finish(self) -> None:
        with connection.cursor() as cursor:
            for model in (Profile, Contact, Event):
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
            # VACUUM sets the visibility map, so counts can be answered index-only; it can't
            # run inside a transaction (a test's), where ANALYZE alone does.
            analyze = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
            for model in (Profile, Contact, Event, EventSummary):
                cursor.execute(f"{analyze} {model._meta.db_table}")


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, dict):
        text = json.dumps(value, separators=(",", ":"))
    elif isinstance(value, dt.datetime | dt.date):
        text = value.isoformat()
    else:
        text = str(value)
    # Generated values hold no tabs or newlines; backslashes are the one thing COPY would read.
    return text.replace("\\", "\\\\")
