"""Time the rule engine on a big database: a fixed suite of rules (every operator family) through
`rule_count` with the cache bypassed, median and p95 per rule, and the reference
`SELECT count(*)` of the account's profiles measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/audience_bench \
        .venv/bin/python -m benchmarks segments_bench --runs 7
"""

from __future__ import annotations

import statistics
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from audience.models import Account, Profile
from segments import selectors


def c(attribute, operator, value=None):
    cond = {"attribute": attribute, "operator": operator}
    if value is not None:
        cond["value"] = value
    return cond


def rule(*conditions, events=(), match="all"):
    out = {"version": 1, "events": list(events)}
    if conditions:
        out["attributes"] = {"match": match, "conditions": list(conditions)}
    return out


def ev(name, count=1, op="gte", days=None, performed=True, properties=()):
    clause = {"event": name, "performed": performed, "occurrence": {"operator": op, "count": count}}
    clause["time"] = (
        {"operator": "within_last", "amount": days, "unit": "days"} if days else {"operator": "any_time"}
    )
    clause["properties"] = list(properties)
    return clause


# (family, name, rule, has events)
SUITE = [
    ("text is", "city is London", rule(c("city", "is", "london")), False),
    ("text in", "country in 3", rule(c("country", "in", ["Croatia", "Italy", "Kenya"])), False),
    ("text negative", "city is_not London", rule(c("city", "is_not", "London")), False),
    ("text prefix", "last_name starts_with 'sha'", rule(c("last_name", "starts_with", "sha")), False),
    ("text contains", "first_name contains 'ann'", rule(c("first_name", "contains", "ann")), False),
    ("text empty", "city is_empty", rule(c("city", "is_empty")), False),
    (
        "choice",
        "type is customer AND gender is female",
        rule(c("type", "is", "customer"), c("gender", "is", "female")),
        False,
    ),
    (
        "date relative",
        "birth_date was_within 7 days",
        rule(c("birth_date", "was_within", {"amount": 7, "unit": "days"})),
        False,
    ),
    ("date absolute", "birth_date before 1970-01-01", rule(c("birth_date", "before", "1970-01-01")), False),
    ("custom number", "custom.spend gte 500", rule(c("custom.spend", "gte", 500)), False),
    ("custom integer", "custom.orders is 3", rule(c("custom.orders", "is", 3)), False),
    ("custom boolean", "custom.newsletter is true", rule(c("custom.newsletter", "is", True)), False),
    ("custom text", "custom.loyalty_tier is gold", rule(c("custom.loyalty_tier", "is", "gold")), False),
    (
        "custom date",
        "custom.contract_expiry will_be_within 30 days",
        rule(c("custom.contract_expiry", "will_be_within", {"amount": 30, "unit": "days"})),
        False,
    ),
    (
        "custom datetime",
        "custom.last_login was_within 7 days",
        rule(c("custom.last_login", "was_within", {"amount": 7, "unit": "days"})),
        False,
    ),
    ("contact", "email ends_with @icloud.com", rule(c("email", "ends_with", "@icloud.com")), False),
    ("contact prefix", "phone starts_with +385", rule(c("phone", "starts_with", "+385")), False),
    ("company", "company is_empty", rule(c("company", "is_empty")), False),
    ("tags", "tags is_empty", rule(c("tags", "is_empty")), False),
    ("dnc", "dnc is any", rule(c("dnc", "is", "any")), False),
    (
        "group any",
        "city is Zagreb OR spend gte 900",
        rule(c("city", "is", "Zagreb"), c("custom.spend", "gte", 900), match="any"),
        False,
    ),
    ("event", "Purchase ≥ 3 in 30 days", rule(events=[ev("Purchase", 3, days=30)]), True),
    ("event predefined", "Active Mobile Users", rule(events=[ev("App Launch", 1, days=30)]), True),
    (
        "event negative",
        "Inactive Mobile Users",
        rule(events=[ev("App Launch", 1, days=30, performed=False)]),
        True,
    ),
    ("event zero", "Purchase < 2 in 30 days", rule(events=[ev("Purchase", 2, op="lt", days=30)]), True),
    ("event equals", "Email Open exactly 2, any time", rule(events=[ev("Email Open", 2, op="equals")]), True),
    (
        "event property",
        "Purchase category is Electronics in 90 days",
        rule(
            events=[
                ev(
                    "Purchase",
                    1,
                    days=90,
                    properties=[c("category", "is", "Electronics") | {"property": "category"}],
                )
            ]
        ),
        True,
    ),
    (
        "mixed",
        "city is London AND Purchase ≥ 1 in 7 days",
        rule(c("city", "is", "London"), events=[ev("Purchase", 1, days=7)]),
        True,
    ),
]


class Command(BaseCommand):
    help = "Time rule_count over a fixed suite of rules (cold: the count cache is bypassed)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--account", default="", help="account name (default: the one with most profiles)"
        )
        parser.add_argument("--runs", type=int, default=7)
        parser.add_argument("--only", default="", help="run only rules whose name contains this")

    def handle(self, *args, **options):
        account = self._account(options["account"])
        runs = options["runs"]
        self.stdout.write(f"{connection.vendor}, account {account.name}, {runs} runs per rule\n")
        ref = self._time(lambda: Profile.objects.filter(account=account).count(), runs)
        self.stdout.write(f"{'reference SELECT count(*)':<52} {ref[0]:>8.1f} {ref[1]:>8.1f}  {ref[2]:>9,}")
        self.stdout.write(f"{'rule':<52} {'median':>8} {'p95':>8}  {'count':>9}")
        summary = {False: [], True: []}
        for family, name, the_rule, has_events in SUITE:
            if options["only"] and options["only"].lower() not in name.lower():
                continue
            errors = selectors.rule_validate(account=account, rule=the_rule)
            if errors:
                self.stdout.write(f"{name:<52} skipped: {errors[0]}")
                continue
            median, p95, count = self._time(
                lambda r=the_rule: selectors.rule_count(
                    account=account, rule=r, cached=False, timeout_ms=30_000
                ),
                runs,
            )
            summary[has_events].append(median)
            shown = f"{count:,}" if count is not None else "timeout"
            self.stdout.write(f"{family + ': ' + name:<52} {median:>8.1f} {p95:>8.1f}  {shown:>9}")
        for has_events, medians in summary.items():
            if medians:
                label = "rules with events" if has_events else "attribute-only rules"
                self.stdout.write(
                    f"{label}: median of medians {statistics.median(medians):.1f} ms, worst median {max(medians):.1f} ms"
                )

    def _account(self, name: str) -> Account:
        if name:
            try:
                return Account.objects.get(name=name)
            except Account.DoesNotExist:
                raise CommandError(f"No account named {name!r}.") from None
        account = max(
            Account.objects.all(), key=lambda a: Profile.objects.filter(account=a).count(), default=None
        )
        if account is None:
            raise CommandError("There is no account.")
        return account

    def _time(self, fn, runs: int) -> tuple[float, float, int]:
        fn()  # warm up: plans, catalog, buffers
        timings, value = [], None
        for _ in range(runs):
            start = time.perf_counter()
            value = fn()
            timings.append((time.perf_counter() - start) * 1000)
        timings.sort()
        p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
        return statistics.median(timings), p95, value
