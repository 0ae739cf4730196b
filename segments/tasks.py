from __future__ import annotations

from celery import shared_task

from segments import services


@shared_task(name="segments.segment_sizes_record_task")
def segment_sizes_record_task() -> int:
    return services.segment_sizes_record()


@shared_task(name="segments.attribute_index_create_task")
def attribute_index_create_task(definition_pk: int) -> bool:
    from audience.models import AttributeDefinition
    from segments import indexes

    definition = AttributeDefinition.objects.filter(pk=definition_pk).first()
    return indexes.attribute_index_create(definition) if definition is not None else False


@shared_task(name="segments.attribute_index_drop_task")
def attribute_index_drop_task(definition_pk: int) -> None:
    from segments import indexes

    indexes.attribute_index_drop(definition_pk)


@shared_task(name="segments.property_indexes_sync_task")
def property_indexes_sync_task(definition_pk: int) -> tuple[int, int]:
    from segments import indexes

    return indexes.property_indexes_sync_one(definition_pk)


@shared_task(name="segments.rule_count_task")
def rule_count_task(account_pk: int, rule: dict) -> int | None:
    """Count a rule with the background limit; the answer goes into the count cache."""
    from audience.models import Account
    from segments.rules.validate import RuleErrors

    account = Account.objects.filter(pk=account_pk).first()
    if account is None:
        return None
    try:
        return services.rule_count(account=account, rule=rule, timeout_ms=services.BACKGROUND_COUNT_MS)
    except RuleErrors:  # the definitions changed since the page asked
        return None


@shared_task(name="segments.count_engine_build_task")
def count_engine_build_task(account_pk: int) -> float | None:
    """Rebuild the account's count engine file (segments/engines/store.py); its build time, or
    None when another build of the account was running."""
    from segments.engines import store

    built = store.build(account_pk)
    return None if built is None else built.seconds
