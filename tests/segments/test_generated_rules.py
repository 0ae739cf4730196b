"""Generated rules (benchmarks/rule_generator.py) against a second evaluation in plain Python
(benchmarks/rule_oracle.py): on a seeded dataset, every generated rule's count — through
rule_count, with its special counting paths — and its members — through rule_queryset — equal what
the oracle computes from the rows. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
from unittest import mock

import pytest

from audience import demo
from audience.models import Contact, Profile
from benchmarks.rule_generator import RuleGenerator, Vocabulary
from benchmarks.rule_oracle import Oracle
from segments import selectors
from segments.rules import operators as ops
from segments.rules.compile import Compiler

NOW = dt.datetime(2024, 3, 30, 23, 30, tzinfo=dt.UTC)
SEED = 20240330
RULES = 300


@pytest.fixture
def frozen():
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        yield NOW


@pytest.fixture
def dataset(account, frozen):
    """~300 demo profiles (every custom attribute type, contacts, companies, ~6 events each over
    90 days with typed properties), some tags, and Do Not Contact entries of every kind."""
    from dnc.models import DncEntry, DncEntryAccount
    from tags.models import ProfileTag, Tag

    demo.seed_demo(profiles=300, events_per_profile=6, seed=7, account_name=account.name)
    rng = random.Random(1)
    profile_ids = list(Profile.objects.filter(account=account).values_list("pk", flat=True))
    tags = [Tag.objects.create(account=account, name=name) for name in ("VIP", "Newsletter", "Churn risk")]
    ProfileTag.objects.bulk_create(
        ProfileTag(account=account, profile_id=pid, tag=tag)
        for tag in tags
        for pid in rng.sample(profile_ids, 60)
    )
    contacts = list(Contact.objects.filter(account=account).values_list("kind", "value"))
    blocked = rng.sample(contacts, 40)
    entries = [(kind, value, rng.choice(("", "SMS", "EMAIL", "WHATSAPP"))) for kind, value in blocked]
    domains = sorted({value.split("@", 1)[1] for kind, value in contacts if kind == "email"})
    entries += [("domain", domain, rng.choice(("", "EMAIL"))) for domain in domains[:2]]
    for kind, value, channel in entries:
        entry = DncEntry.objects.create(kind=kind, value=value, channel=channel)
        DncEntryAccount.objects.create(entry=entry, account=account, kind=kind, value=value, channel=channel)
    return account


def test_generator_is_deterministic_and_covers_the_language(dataset):
    vocab = Vocabulary.from_account(dataset, now=NOW)
    first = RuleGenerator(vocab, SEED).rules(1000)
    assert first == RuleGenerator(vocab, SEED).rules(1000)
    assert first != RuleGenerator(vocab, SEED + 1).rules(RULES)

    used: dict[str, set[str]] = {}
    depth, clauses, windows, props, occurrences = 0, set(), set(), 0, set()

    def walk(group, level):
        nonlocal depth
        depth = max(depth, level)
        for child in group["conditions"]:
            if "conditions" in child:
                walk(child, level + 1)
            else:
                used.setdefault(child["attribute"], set()).add(child["operator"])

    for rule in first:
        assert selectors.rule_validate(account=dataset, rule=rule) == [], rule
        if rule.get("attributes"):
            walk(rule["attributes"], 1)
        clauses.add(len(rule["events"]))
        for clause in rule["events"]:
            windows.add(clause["time"]["operator"])
            occurrences.add(clause["occurrence"]["operator"])
            props += len(clause["properties"])
    assert {"custom.spend", "custom.last_login", "phone", "email", "company", "tags", "dnc"} <= set(used)
    by_kind: dict[str, set[str]] = {}
    for spec in vocab.attributes:
        by_kind.setdefault(spec.kind, set()).update(used.get(spec.key, set()))
    assert by_kind == {kind: set(table) for kind, table in ops.OPERATORS.items()}  # every operator
    assert depth == ops.MAX_DEPTH
    assert clauses == set(range(6))
    assert windows == set(ops.EVENT_TIME_OPERATORS)
    assert occurrences == set(ops.OCCURRENCE_OPERATORS)
    assert props > 20


def test_generated_rules_count_what_the_rows_say(dataset):
    """The differential test: every generated rule, count and members, against the oracle."""
    vocab = Vocabulary.from_account(dataset, now=NOW)
    oracle = Oracle(dataset, now=NOW)
    assert len(oracle.profiles) == 300
    nonempty = 0
    for index, rule in enumerate(RuleGenerator(vocab, SEED).rules(RULES)):
        normalised = selectors.rule_clean(account=dataset, rule=rule)
        expected = oracle.matching(normalised)
        members = set(selectors.rule_queryset(account=dataset, rule=rule).values_list("pk", flat=True))
        count = selectors.rule_count(account=dataset, rule=rule, cached=False)
        assert members == expected, (index, rule, len(members), len(expected))
        assert count == len(expected), (index, rule, count, len(expected))
        # The other forms a count may compile (Do Not Contact as `id IN (set)`, event counts in a
        # window as a count per profile) select the same profiles.
        other = Compiler(dataset, hashed_sets=True, correlated_counts=True).queryset(normalised)
        assert set(other.values_list("pk", flat=True)) == expected, (index, rule, "per profile")
        nonempty += 0 < len(expected) < 300
    assert nonempty > RULES // 3  # rules that split the profiles, not only all-or-nothing
