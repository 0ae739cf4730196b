from __future__ import annotations

from django.apps import AppConfig


class TagsConfig(AppConfig):
    name = "tags"
    verbose_name = "Tags"

    def ready(self) -> None:
        from audience.filters import register_quick_filter
        from tags import filters

        register_quick_filter(filters.TAGS)
