from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from audience import counting
from audience.usage import TAG, usage_list
from tags import services
from tags.models import CompanyTag, ProfileTag, Tag, TagBulkJob


def _count(model) -> Subquery:
    links = (
        model.objects.filter(tag=OuterRef("pk")).order_by().values("tag").annotate(n=Count("*")).values("n")
    )
    return Coalesce(Subquery(links), 0)


class TagAdminForm(forms.ModelForm):
    """The checks of the Tags screen: a clean name, not taken, and no rename of a tag in use."""

    class Meta:
        model = Tag
        fields = ("account", "name")

    def clean_name(self) -> str:
        name = services.tag_name_clean(self.cleaned_data.get("name", ""))
        original = Tag.objects.filter(pk=self.instance.pk).first() if self.instance.pk else None
        if original is not None and name.lower() != original.name.lower():
            uses = usage_list(TAG, original)
            if uses:
                raise ValidationError(f"“{original.name}” can't be renamed: it is used by {', '.join(uses)}.")
        return name


@admin.register(Tag)
class TagAdmin(counting.DataChangedAdminMixin, admin.ModelAdmin):
    form = TagAdminForm
    list_display = ("name", "account", "persons", "companies", "created_at", "modified_at")
    list_filter = ("account",)
    search_fields = ("name",)
    readonly_fields = ("created_at", "modified_at")
    show_full_result_count = False
    actions = ["delete_tags"]

    def get_readonly_fields(self, request, obj=None):
        return ("account", "created_at", "modified_at") if obj else ("created_at", "modified_at")

    def get_actions(self, request):
        found = super().get_actions(request)
        found.pop("delete_selected", None)  # deletes go through tags_delete (the in-use lock)
        return found

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and usage_list(TAG, obj):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        if change:
            services.tag_rename(tag=Tag.objects.get(pk=obj.pk), name=form.cleaned_data["name"])
        else:
            created = services.tag_create(
                account=form.cleaned_data["account"], name=form.cleaned_data["name"]
            )
            obj.pk = created.pk
            obj._state.adding = False

    def delete_model(self, request, obj) -> None:
        services.tags_delete(account=obj.account, tags=[obj])

    @admin.action(description="Delete selected tags", permissions=["delete"])
    def delete_tags(self, request, queryset) -> None:
        deleted = 0
        for tag in queryset.select_related("account"):
            try:
                deleted += services.tags_delete(account=tag.account, tags=[tag])
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
        if deleted:
            self.message_user(request, f"Deleted {deleted} tag{'s' if deleted != 1 else ''}.")

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

    # Links change through tags_add / tags_remove (account checks, the data generation counts key on).
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CompanyTag)
class CompanyTagAdmin(counting.DataChangedAdminMixin, admin.ModelAdmin):
    list_display = ("tag", "company", "account", "created_at")
    list_select_related = ("tag", "company", "account")
    raw_id_fields = ("company", "tag", "account")
    search_fields = ("=tag__name",)

    # Links change through tags_add / tags_remove (account checks, the data generation counts key on).
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


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
