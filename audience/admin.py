from __future__ import annotations

from django.contrib import admin
from django.db.models import Count

from audience import (
    admin_api,  # noqa: F401  (registers ApiKey)
    counting,
)
from audience.models import (
    Account,
    AttributeDefinition,
    Company,
    Contact,
    Event,
    EventDefinition,
    Membership,
    Notification,
    Profile,
    TaskOutbox,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Account)
class AccountAdmin(counting.DataChangedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "time_zone", "member_count", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_members=Count("memberships"))

    @admin.display(description="Members", ordering="_members")
    def member_count(self, obj: Account) -> int:
        return obj._members


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "account", "role", "created_at"]
    list_filter = ["role", "account"]
    search_fields = ["user__username", "user__email", "account__name"]
    autocomplete_fields = ["user", "account"]


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ["kind", "value", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Profile)
class ProfileAdmin(counting.DataChangedAdminMixin, admin.ModelAdmin):
    list_display = ["id", "display_name", "type", "city", "country", "account", "created_at"]
    list_filter = ["type", "gender", "account"]
    # Exact or prefix matches only: a contains-search over a million rows would scan them all.
    search_fields = ["=external_id", "^last_name", "^first_name", "=contacts__value"]
    autocomplete_fields = ["account", "company"]
    readonly_fields = ["created_at", "modified_at"]
    show_full_result_count = False
    list_select_related = ["account"]
    inlines = [ContactInline]


@admin.register(Contact)
class ContactAdmin(counting.DataChangedAdminMixin, admin.ModelAdmin):
    list_display = ["value", "kind", "profile", "account"]
    list_filter = ["kind", "account"]
    search_fields = ["=value"]
    raw_id_fields = ["profile"]
    autocomplete_fields = ["account"]
    show_full_result_count = False
    list_select_related = ["account", "profile"]


@admin.register(Company)
class CompanyAdmin(counting.DataChangedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "domain", "country", "profile_count", "account"]
    list_filter = ["account"]
    search_fields = ["name", "domain", "external_id"]
    autocomplete_fields = ["account"]
    readonly_fields = ["created_at", "modified_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_profiles=Count("profiles"))

    @admin.display(description="Profiles", ordering="_profiles")
    def profile_count(self, obj: Company) -> int:
        return obj._profiles


@admin.register(AttributeDefinition)
class AttributeDefinitionAdmin(counting.DataChangedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "type", "account", "created_at"]
    list_filter = ["type", "account"]
    search_fields = ["name"]
    autocomplete_fields = ["account"]

    def get_readonly_fields(self, request, obj=None):
        # A definition's type never changes once it exists.
        return ["type", "account", "created_at"] if obj else ["created_at"]


@admin.register(EventDefinition)
class EventDefinitionAdmin(counting.DataChangedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "is_predefined", "account", "created_at"]
    list_filter = ["is_predefined", "account"]
    search_fields = ["name"]
    autocomplete_fields = ["account"]
    readonly_fields = ["created_at"]


@admin.register(Event)
class EventAdmin(counting.DataChangedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "profile", "occurred_at", "account"]
    list_filter = ["account"]
    search_fields = ["=name", "=event_id"]
    raw_id_fields = ["profile"]
    autocomplete_fields = ["account"]
    show_full_result_count = False
    list_select_related = ["account", "profile"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["message", "user", "account", "created_at", "read_at"]
    list_filter = ["account", "level"]
    search_fields = ["message", "user__username"]
    autocomplete_fields = ["account", "user"]


@admin.register(TaskOutbox)
class TaskOutboxAdmin(admin.ModelAdmin):
    list_display = ["task_name", "args", "created_at", "attempts", "last_error"]
    readonly_fields = ["task_name", "args", "created_at", "attempts", "last_error"]
