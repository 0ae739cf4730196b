"""Broadcasts, flows, their audiences and messages in the Django admin: to look at, not to
edit. A broadcast's counters and messages are its send's record, a flow's status and audience
change through `communications.services` (the in-use locks of tags and segments read them), so
editing them here would break what the screens rely on."""

from __future__ import annotations

from django.contrib import admin

from communications.models import (
    AudienceItem,
    Broadcast,
    Flow,
    InboundMessage,
    Message,
    OutboxMessage,
    Sender,
    WebhookBatch,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AudienceItemInline(admin.TabularInline):
    model = AudienceItem
    fields = ("kind", "object_id", "selection", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Broadcast)
class BroadcastAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "account",
        "channel",
        "status",
        "queued_at",
        "sent",
        "blocked_dnc",
        "failed",
        "outside_window",
    )
    list_filter = ("status", "channel", "account")
    search_fields = ("name",)
    list_select_related = ("account",)
    inlines = [AudienceItemInline]


@admin.register(Flow)
class FlowAdmin(ReadOnlyAdmin):
    list_display = ("name", "account", "status", "created_at", "modified_at")
    list_filter = ("status", "account")
    search_fields = ("name",)
    list_select_related = ("account",)
    inlines = [AudienceItemInline]


@admin.register(AudienceItem)
class AudienceItemAdmin(ReadOnlyAdmin):
    list_display = ("kind", "object_id", "broadcast", "flow", "account", "created_at")
    list_filter = ("kind",)
    raw_id_fields = ("broadcast", "flow")
    list_select_related = ("account", "broadcast", "flow")


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("broadcast", "profile", "channel", "destination", "status", "created_at")
    list_filter = ("status", "channel")
    search_fields = ("=destination",)
    raw_id_fields = ("broadcast", "profile")
    list_select_related = ("broadcast",)
    show_full_result_count = False


@admin.register(Sender)
class SenderAdmin(ReadOnlyAdmin):
    list_display = ("address", "label", "channel", "account", "created_at")
    list_filter = ("channel",)
    search_fields = ("address", "label")
    list_select_related = ("account",)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ("destination", "channel", "subject", "broadcast", "account", "created_at")
    list_filter = ("channel",)
    search_fields = ("=destination", "=key")
    raw_id_fields = ("broadcast",)
    list_select_related = ("account", "broadcast")
    show_full_result_count = False


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ("number", "to", "channel", "word", "action", "account", "received_at")
    list_filter = ("channel", "word", "action")
    search_fields = ("=number", "=message_id")
    raw_id_fields = ("batch",)
    list_select_related = ("account",)
    show_full_result_count = False


@admin.register(WebhookBatch)
class WebhookBatchAdmin(ReadOnlyAdmin):
    list_display = (
        "pk",
        "kind",
        "status",
        "total",
        "applied",
        "repeated",
        "ignored",
        "account",
        "created_at",
    )
    list_filter = ("kind", "status")
    list_select_related = ("account",)
    exclude = ("payload",)  # up to thousands of results: the row's counters say what became of them
