from __future__ import annotations

from django.apps import AppConfig


class AudienceConfig(AppConfig):
    name = "audience"
    verbose_name = "People"

    def ready(self) -> None:
        from audience import lookups  # noqa: F401  (registers `field__any`)
