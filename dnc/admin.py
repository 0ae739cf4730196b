from __future__ import annotations

from django.contrib import admin

from dnc.models import DncAudit, DncEntry, DncEntryAccount, DncRemoveJob


class DncEntryAccountInline(admin.TabularInline):
    model = DncEntryAccount
    fields = ("account", "source", "campaign", "added_at", "added_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # adds go through dnc_entries_add, which normalises, merges and audits


@admin.register(DncEntry)
class DncEntryAdmin(admin.ModelAdmin):
    list_display = ("value", "kind", "sender", "channel", "created_at")
    list_filter = ("kind", "channel")
    search_fields = ("=value", "sender")
    readonly_fields = ("kind", "value", "sender", "channel", "created_at")
    inlines = [DncEntryAccountInline]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # removals go through dnc_entry_remove so that they are audited


@admin.register(DncAudit)
class DncAuditAdmin(admin.ModelAdmin):
    list_display = ("at", "action", "value", "sender", "channel", "account_name", "source", "how", "username")
    list_filter = ("action", "how", "source", "channel")
    search_fields = ("=value", "account_name", "username")
    date_hierarchy = "at"
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DncRemoveJob)
class DncRemoveJobAdmin(admin.ModelAdmin):
    list_display = ("pk", "account", "status", "processed", "total", "created_by", "created_at")
    list_filter = ("status",)

    # A job row is the record of a removal (every removal is audited): it changes only through the job.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
