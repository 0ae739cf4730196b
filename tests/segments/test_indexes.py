"""Custom attribute and event property indexes (PostgreSQL only): created when a definition is
committed, dropped when it is deleted, and their expression is the one the compiler's SQL reads
(the planner uses them)."""

from __future__ import annotations

import io
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from audience import services as audience_services
from audience.models import AttributeDefinition, Event, EventDefinition, Profile
from segments import indexes, selectors

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="indexes exist on PostgreSQL only")


def plan(queryset) -> str:
    """The plan of the rule's count, on enough analysed rows that an index is worth it."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audience_profile")
        cursor.execute("SET enable_seqscan = off")
        try:
            return queryset.order_by().explain()
        finally:
            cursor.execute("RESET enable_seqscan")


def fill(account, type_: str) -> None:
    values = {"decimal": lambda i: i, "boolean": lambda i: i % 7 == 0, "text": lambda i: f"v{i}"}
    value = values.get(type_, lambda i: f"2024-{1 + i % 12:02}-{1 + i % 28:02}")
    Profile.objects.bulk_create(Profile(account=account, attributes={"attr": value(i)}) for i in range(3000))


@pytest.mark.django_db(transaction=True)
def test_a_definition_gets_its_index_and_loses_it_when_deleted(account):
    spend = audience_services.attribute_definition_create(account=account, name="spend", type="decimal")
    tier = audience_services.attribute_definition_create(account=account, name="tier", type="text")
    assert {indexes.attribute_index_name(spend.pk), indexes.attribute_index_name(tier.pk)} <= (
        indexes.existing_attribute_indexes()
    )
    audience_services.attribute_definition_delete(definition=spend)
    assert indexes.attribute_index_name(spend.pk) not in indexes.existing_attribute_indexes()
    AttributeDefinition.objects.filter(pk=tier.pk).delete()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("type_", "condition"),
    [
        ("decimal", {"operator": "gte", "value": 500}),
        ("boolean", {"operator": "is", "value": True}),
        ("date", {"operator": "will_be_within", "value": {"amount": 30, "unit": "days"}}),
        ("text", {"operator": "is", "value": "gold"}),
        ("text", {"operator": "in", "value": ["gold", "silver"]}),
        ("text", {"operator": "starts_with", "value": "go"}),
    ],
)
def test_the_compiled_sql_uses_the_index(account, type_, condition):
    definition = audience_services.attribute_definition_create(account=account, name="attr", type=type_)
    fill(account, type_)
    try:
        rule = {
            "version": 1,
            "attributes": {"match": "all", "conditions": [{"attribute": "custom.attr", **condition}]},
        }
        assert indexes.attribute_index_name(definition.pk) in plan(
            selectors.rule_queryset(account=account, rule=rule)
        )
    finally:
        definition.delete()


@pytest.mark.django_db(transaction=True)
def test_the_command_recreates_missing_indexes(account):
    definition = audience_services.attribute_definition_create(account=account, name="orders", type="integer")
    try:
        indexes.attribute_index_drop(definition.pk)
        call_command("segments_indexes")
        assert indexes.attribute_index_name(definition.pk) in indexes.existing_attribute_indexes()
    finally:
        definition.delete()


@pytest.mark.django_db(transaction=True)
def test_an_event_definition_gets_an_index_per_property_kept_in_line_with_it(account):
    definition = audience_services.event_definition_create(
        account=account, name="Order", properties={"category": "text", "amount": "decimal"}
    )
    try:
        first = set(indexes.property_indexes_wanted(definition))
        assert len(first) == 2 and first <= indexes.existing_property_indexes(definition.pk)
        audience_services.event_definition_update(
            definition=definition, description="", new_properties={"paid": "boolean"}
        )
        definition.refresh_from_db()
        assert indexes.existing_property_indexes(definition.pk) == set(
            indexes.property_indexes_wanted(definition)
        )
        assert len(indexes.existing_property_indexes(definition.pk)) == 3
        with connection.cursor() as cursor:
            cursor.execute(f'DROP INDEX "{sorted(first)[0]}"')
        call_command("segments_indexes")
        assert first <= indexes.existing_property_indexes(definition.pk)
    finally:
        pk = definition.pk
        audience_services.event_definition_delete(definition=definition)
    assert indexes.existing_property_indexes(pk) == set()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("type_", "condition", "value"),
    [
        ("text", {"operator": "is", "value": "books"}, lambda i: ["books", "games", "toys"][i % 3]),
        ("text", {"operator": "starts_with", "value": "bo"}, lambda i: ["books", "games", "toys"][i % 3]),
        ("decimal", {"operator": "gte", "value": 500}, lambda i: i),
        ("boolean", {"operator": "is", "value": True}, lambda i: i % 7 == 0),
    ],
)
def test_an_event_property_filter_uses_its_index(account, type_, condition, value):
    definition = audience_services.event_definition_create(
        account=account, name="Order", properties={"p": type_}
    )
    profile = audience_services.profile_create(account=account, fields={"first_name": "Ann"})
    Event.objects.bulk_create(
        Event(
            account=account,
            profile=profile,
            name="Order",
            occurred_at=timezone.now(),
            properties={"p": value(i)},
        )
        for i in range(3000)
    )
    try:
        rule = {
            "version": 1,
            "events": [
                {
                    "event": "Order",
                    "time": {"operator": "within_last", "amount": 30, "unit": "days"},
                    "properties": [{"property": "p", **condition}],
                }
            ],
        }
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE audience_event")
        (name,) = indexes.property_indexes_wanted(definition)
        assert name in plan(selectors.rule_queryset(account=account, rule=rule))
    finally:
        Profile.objects.filter(pk=profile.pk).delete()
        definition.delete()


@pytest.fixture
def no_worker():
    """No Celery worker and no eager tasks: whatever a queued task would do does not happen."""
    from audience.celery import app as celery_app

    celery_app.conf.task_always_eager = False
    with mock.patch.object(indexes, "_send") as send:
        yield send


@pytest.mark.django_db(transaction=True)
def test_indexes_exist_at_commit_without_a_worker(account, no_worker):
    spend = audience_services.attribute_definition_create(account=account, name="spend", type="decimal")
    purchase = audience_services.event_definition_create(
        account=account, name="Purchase", properties={"category": "text"}
    )
    assert indexes.attribute_index_name(spend.pk) in indexes.existing_attribute_indexes()
    assert indexes.existing_property_indexes(purchase.pk)
    no_worker.assert_not_called()


@pytest.mark.django_db(transaction=True)
def test_seed_demo_finishes_with_its_indexes_without_a_worker(no_worker):
    call_command(
        "seed_demo", profiles=30, events_per_profile=2, seed=1, account="Indexed", stdout=io.StringIO()
    )
    definitions = AttributeDefinition.objects.filter(account__name="Indexed")
    assert definitions.count() >= 6
    assert {indexes.attribute_index_name(d.pk) for d in definitions} <= indexes.existing_attribute_indexes()
    for definition in EventDefinition.objects.filter(account__name="Indexed"):
        assert set(indexes.property_indexes_wanted(definition)) <= indexes.existing_property_indexes(
            definition.pk
        )
    no_worker.assert_not_called()


@pytest.mark.django_db(transaction=True)
def test_migrate_builds_missing_indexes(account, no_worker):
    tier = audience_services.attribute_definition_create(account=account, name="tier", type="text")
    purchase = audience_services.event_definition_create(
        account=account, name="Purchase", properties={"amount": "decimal"}
    )
    indexes.attribute_index_drop(tier.pk)
    with connection.cursor() as cursor:
        for name in indexes.existing_property_indexes(purchase.pk):
            cursor.execute(f'DROP INDEX "{name}"')
    assert indexes.attribute_index_name(tier.pk) not in indexes.existing_attribute_indexes()
    call_command("migrate", verbosity=0)
    assert indexes.attribute_index_name(tier.pk) in indexes.existing_attribute_indexes()
    assert indexes.existing_property_indexes(purchase.pk)
