from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from audience import counting
from tags.models import CompanyTag, ProfileTag, Tag, TagBulkJob


def _count(model) -> Subquery:
    links = (
        model.objects.filter(tag=OuterRef("pk")).order_by().values("tag").annotate(n=Count("*")).values("n")
    )
    return Coalesce(Subquery(links), 0)


@admin.register(Tag)
class TagAdmin(counting.DataChangedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "account", "persons", "companies", "created_at", "modified_at")
    list_filter = ("account",)
    search_fields = ("name",)
    readonly_fields = ("created_at", "modified_at")
    show_full_result_count = False

    def get_queryset(self, request):
        # A correlated count per table (index-only on (tag, …)); joining both tables and counting
        # distinct would multiply a tag's profiles by its companies.
        return (
            super()
            .get_queryset(request)
            .select_related("account")
            .annotate(persons_count=_count(ProfileTag), companies_count=_count(CompanyTag))
        )

    @admin.display(description="Persons", ordering="persons_count")
    def persons(self, tag: Tag) -> int:
        return tag.persons_count

    @admin.display(description="Companies", ordering="companies_count")
    def companies(self, tag: Tag) -> int:
        return tag.companies_count


@admin.register(ProfileTag)
class ProfileTagAdmin(counting.DataChangedAdminMixin, admin.ModelAdmin):
    list_display = ("tag", "profile", "account", "created_at")
    list_select_related = ("tag", "profile", "account")
    raw_id_fields = ("profile", "tag", "account")
    search_fields = ("=tag__name",)
    show_full_result_count = False


@admin.register(CompanyTag)
class CompanyTagAdmin(counting.DataChangedAdminMixin, admin.ModelAdmin):
    list_display = ("tag", "company", "account", "created_at")
    list_select_related = ("tag", "company", "account")
    raw_id_fields = ("company", "tag", "account")
    search_fields = ("=tag__name",)


@admin.register(TagBulkJob)
class TagBulkJobAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "account",
        "action",
        "status",
        "processed",
        "total",
        "added",
        "removed",
        "created_at",
    )
    list_filter = ("status", "action")
    readonly_fields = (
        "account",
        "created_by",
        "selection",
        "action",
        "add_tag_ids",
        "remove_tag_ids",
        "status",
        "total",
        "processed",
        "added",
        "removed",
        "last_profile_id",
        "message",
        "created_at",
        "started_at",
        "finished_at",
    )

    def has_add_permission(self, request) -> bool:
        return False  # jobs start from People's "Manage tags"
