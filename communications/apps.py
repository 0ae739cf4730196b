from __future__ import annotations

from django.apps import AppConfig


class CommunicationsConfig(AppConfig):
    name = "communications"
    verbose_name = "Communications"

    def ready(self) -> None:
        from audience import usage as audience_usage
        from audience.filters import register_quick_filter
        from communications import filters, usage
        from segments.usage import register_segment_usage
        from tags.usage import register_tag_usage

        register_quick_filter(filters.CONTACTED)
        register_quick_filter(filters.REACHED)
        register_tag_usage(usage.tag_usage)
        register_segment_usage(usage.segment_usage)
        audience_usage.register_attribute_usage(usage.attribute_usage)
