from __future__ import annotations

from django.apps import AppConfig


class CommunicationsConfig(AppConfig):
    name = "communications"
    verbose_name = "Communications"

    def ready(self) -> None:
        from audience.filters import register_quick_filter
        from audience.usage import ATTRIBUTE, SEGMENT, TAG, usage_register
        from communications import filters, usage

        register_quick_filter(filters.CONTACTED)
        register_quick_filter(filters.REACHED)
        usage_register(TAG, usage.tag_usage)
        usage_register(SEGMENT, usage.segment_usage)
        usage_register(ATTRIBUTE, usage.attribute_usage)
