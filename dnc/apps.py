from __future__ import annotations

from django.apps import AppConfig


class DncConfig(AppConfig):
    name = "dnc"
    verbose_name = "Do Not Contact"
    default_auto_field = "django.db.models.BigAutoField"
