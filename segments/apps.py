from __future__ import annotations

from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = "Segments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_migrate, post_save

        from audience import counting, selection, usage
        from audience.models import AttributeDefinition, EventDefinition
        from segments import indexes, selectors
        from segments.engines import store

        # Each custom attribute gets its expression index (segments.indexes); PostgreSQL only.
        post_save.connect(
            indexes.on_definition_saved, sender=AttributeDefinition, dispatch_uid="segments_attr_index"
        )
        post_delete.connect(
            indexes.on_definition_deleted, sender=AttributeDefinition, dispatch_uid="segments_attr_unindex"
        )
        # … and each event property, per event definition.
        for signal, uid in ((post_save, "segments_evprop_index"), (post_delete, "segments_evprop_unindex")):
            signal.connect(indexes.on_event_definition_changed, sender=EventDefinition, dispatch_uid=uid)

        # `migrate` ends with the indexes of every existing definition in place.
        post_migrate.connect(indexes.on_migrated, sender=self, dispatch_uid="segments_rule_indexes")

        # The DuckDB count engine (COUNT_ENGINE=duckdb) rebuilds an account's file after writes.
        counting.data_committed.connect(store.on_data_committed, dispatch_uid="segments_count_engine")

        selection.register_rule_compiler(
            lambda account, rule: selectors.rule_queryset(account=account, rule=rule)
        )
        selection.register_people_counter(selectors.people_count)
        usage.usage_register(usage.ATTRIBUTE, selectors.attribute_usage)
        usage.usage_register(usage.TAG, selectors.tag_usage)
