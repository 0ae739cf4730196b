from __future__ import annotations

from django.contrib import admin

from segments.models import Segment, SegmentSize


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "predefined", "created_at", "modified_at")
    list_filter = ("account",)
    search_fields = ("name",)
    raw_id_fields = ("created_by",)


@admin.register(SegmentSize)
class SegmentSizeAdmin(admin.ModelAdmin):
    list_display = ("segment", "date", "size")
    raw_id_fields = ("segment",)
