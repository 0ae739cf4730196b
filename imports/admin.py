"""Import and export jobs in the Django admin, read-only: a job row is the record of what a
worker did (its counters, its resume point, its file); it changes only through its job."""

from __future__ import annotations

from django.contrib import admin

from imports.models import ExportJob, ImportJob


class JobAdmin(admin.ModelAdmin):
    list_filter = ("status", "kind")
    list_select_related = ("account", "created_by")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ImportJob)
class ImportJobAdmin(JobAdmin):
    list_display = ("pk", "kind", "file_name", "account", "stage", "status", "rows_read", "created_at")
    search_fields = ("file_name",)


@admin.register(ExportJob)
class ExportJobAdmin(JobAdmin):
    list_display = ("pk", "kind", "format", "account", "status", "processed", "total", "created_at")
