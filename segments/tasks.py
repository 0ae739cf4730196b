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
