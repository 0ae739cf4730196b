"""The Do Not Contact screen's filters: several at once, several values in one (ORed)."""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from dnc.models import AuditAction, Channel, DncAudit, DncEntryAccount, How, Source

BLANK = "-"  # the filter value that stands for "none set" (every channel, every sender)


class MultipleTextField(forms.Field):
    """Repeated text parameters (`?contact=a&contact=b`), blanks dropped."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        return [str(item).strip()[:255] for item in values if str(item).strip()][:20]


class MultipleTextFilter(django_filters.Filter):
    field_class = MultipleTextField


class DncEntryFilterSet(django_filters.FilterSet):
    contact = MultipleTextFilter(label="Contact information contains", method="filter_contact")
    sender = MultipleTextFilter(label="Sender", method="filter_sender")
    channel = django_filters.MultipleChoiceFilter(
        choices=[(BLANK, "Every channel (none set)"), *Channel.choices],
        method="filter_channel",
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )
    source = django_filters.MultipleChoiceFilter(
        choices=Source.choices, widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})
    )
    campaign = MultipleTextFilter(label="Campaign contains", method="filter_campaign")
    account = django_filters.MultipleChoiceFilter(
        choices=[],
        label="Also applies to",
        method="filter_account",
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )
    added_from = django_filters.DateFilter(label="Added from", method="filter_added_from")
    added_until = django_filters.DateFilter(label="Added until", method="filter_added_until")

    class Meta:
        model = DncEntryAccount
        fields: list[str] = []

    def __init__(self, *args, account=None, account_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account
        self.filters["account"].extra["choices"] = [(str(pk), name) for pk, name in account_choices]

    def filter_contact(self, queryset: QuerySet, name: str, values: list[str]) -> QuerySet:
        if not values:
            return queryset
        condition = Q()
        for value in values:
            # Values are stored lower-case and without spaces: a plain LIKE, served on
            # PostgreSQL by the trigram index of migration 0003.
            condition |= Q(value__contains=value.lower().replace(" ", ""))
        return queryset.filter(condition)

    def filter_sender(self, queryset: QuerySet, name: str, values: list[str]) -> QuerySet:
        if not values:
            return queryset
        condition = Q()
        for value in values:
            condition |= Q(sender__iexact=value) if value != BLANK else Q(sender="")
        return queryset.filter(condition)

    def filter_channel(self, queryset: QuerySet, name: str, values: list[str]) -> QuerySet:
        return queryset.filter(channel__in=["" if v == BLANK else v for v in values]) if values else queryset

    def filter_campaign(self, queryset: QuerySet, name: str, values: list[str]) -> QuerySet:
        if not values:
            return queryset
        condition = Q()
        for value in values:
            condition |= Q(campaign__icontains=value)
        return queryset.filter(condition)

    def filter_account(self, queryset: QuerySet, name: str, values: list[str]) -> QuerySet:
        for value in values:  # applies to every account chosen
            queryset = queryset.filter(entry__memberships__account_id=int(value))
        return queryset

    def _day_start(self, day: dt.date) -> dt.datetime:
        tz = self.account.tz if self.account is not None else dt.UTC
        return dt.datetime.combine(day, dt.time.min, tzinfo=tz)

    def filter_added_from(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return queryset.filter(added_at__gte=self._day_start(value))

    def filter_added_until(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return queryset.filter(added_at__lt=self._day_start(value + dt.timedelta(days=1)))


class DncAuditFilterSet(django_filters.FilterSet):
    """The audit trail's filters: contact, who, how, what and when (days in the account's zone)."""

    contact = django_filters.CharFilter(label="Contact information contains", method="filter_contact")
    who = django_filters.CharFilter(label="Who (username)", method="filter_who")
    how = django_filters.MultipleChoiceFilter(
        choices=How.choices, widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})
    )
    action = django_filters.ChoiceFilter(choices=AuditAction.choices, empty_label="Added or removed")
    at_from = django_filters.DateFilter(label="From", method="filter_from")
    at_until = django_filters.DateFilter(label="Until", method="filter_until")

    class Meta:
        model = DncAudit
        fields: list[str] = []

    def __init__(self, *args, account=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account

    def filter_contact(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return (
            queryset.filter(value__contains=value.strip().lower().replace(" ", ""))
            if value.strip()
            else queryset
        )

    def filter_who(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(username__iexact=value.strip()) if value.strip() else queryset

    def _day_start(self, day: dt.date) -> dt.datetime:
        tz = self.account.tz if self.account is not None else dt.UTC
        return dt.datetime.combine(day, dt.time.min, tzinfo=tz)

    def filter_from(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return queryset.filter(at__gte=self._day_start(value))

    def filter_until(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return queryset.filter(at__lt=self._day_start(value + dt.timedelta(days=1)))
