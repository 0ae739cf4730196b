"""Segments in the Django admin, through the same services and validation as the screens: a
predefined segment or one an active communication uses can't be changed or deleted here either,
and a rule is validated by the engine (an operator `bogus` is refused, naming its path)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from audience.usage import SEGMENT, usage_list
from segments import selectors, services
from segments.models import Segment, SegmentSize


class SegmentAdminForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ("account", "name", "description", "rule")

    def clean(self):
        data = super().clean()
        if self.instance.pk:
            services.segment_check_changeable(segment=Segment.objects.get(pk=self.instance.pk))
        account = data.get("account") or getattr(self.instance, "account", None)
        if account is not None and "rule" in data:
            try:
                data["rule"] = selectors.rule_clean(account=account, rule=data["rule"] or {})
            except ValidationError as error:
                self.add_error("rule", error.messages)
        return data


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentAdminForm
    list_display = ("name", "account", "predefined", "created_at", "modified_at")
    list_filter = ("account",)
    search_fields = ("name",)
    actions = ["delete_segments"]

    def get_readonly_fields(self, request, obj=None):
        base = ["predefined", "created_by", "created_at", "modified_at"]
        return ["account", *base] if obj else base

    def get_actions(self, request):
        found = super().get_actions(request)
        found.pop("delete_selected", None)  # deletes go through segments_delete (the in-use lock)
        return found

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and (obj.is_predefined or usage_list(SEGMENT, obj)):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        if change:
            services.segment_update(
                segment=Segment.objects.get(pk=obj.pk),
                name=data["name"],
                rule=data["rule"],
                description=data.get("description", ""),
            )
        else:
            created = services.segment_create(
                account=data["account"],
                name=data["name"],
                rule=data["rule"],
                description=data.get("description", ""),
                user=request.user,
            )
            obj.pk = created.pk
            obj._state.adding = False

    def delete_model(self, request, obj) -> None:
        services.segments_delete(account=obj.account, segment_ids=[obj.pk])

    @admin.action(description="Delete selected segments", permissions=["delete"])
    def delete_segments(self, request, queryset) -> None:
        deleted = 0
        for segment in queryset.select_related("account"):
            try:
                deleted += services.segments_delete(account=segment.account, segment_ids=[segment.pk])
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
        if deleted:
            self.message_user(request, f"Deleted {deleted} segment{'s' if deleted != 1 else ''}.")


@admin.register(SegmentSize)
class SegmentSizeAdmin(admin.ModelAdmin):
    list_display = ("segment", "date", "size")
    raw_id_fields = ("segment",)
    readonly_fields = ("segment", "date", "size")

    def has_add_permission(self, request) -> bool:
        return False  # recorded daily by segment_sizes_record
