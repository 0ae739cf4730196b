from __future__ import annotations

from django.apps import AppConfig


class TagsConfig(AppConfig):
    name = "tags"
