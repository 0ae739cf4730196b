from __future__ import annotations

import contextlib

from django.apps import AppConfig


class CommunicationsConfig(AppConfig):
    name = "communications"
    verbose_name = "Communications"

    def ready(self) -> None:
        from audience.filters import register_quick_filter
        from communications import filters, usage

        register_quick_filter(filters.CONTACTED)
        register_quick_filter(filters.REACHED)
        # Tags and segments may not have their usage registries yet (they are built alongside).
        with contextlib.suppress(ImportError, AttributeError):
            from tags.usage import register_tag_usage

            register_tag_usage(usage.tag_usage)
        with contextlib.suppress(ImportError, AttributeError):
            from segments.usage import register_segment_usage

            register_segment_usage(usage.segment_usage)
