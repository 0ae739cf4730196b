"""The People quick filters and search, as one FilterSet.

Other apps add quick filters of their own (tags, contact history) through `register_quick_filter`,
so every path that resolves "the profiles matching this filter" (the People list, its count, bulk
actions, exports, broadcasts) applies the same filters through `ProfileFilterSet`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from audience.contacts import normalize_phone
from audience.models import Contact, ContactKind, Gender, Profile, ProfileType


@dataclass(frozen=True)
class QuickFilter:
    """A filter contributed by another app: its form fields and how it narrows the queryset."""

    name: str
    fields: Callable[[object], dict[str, forms.Field]]  # account -> {param: form field}
    apply: Callable[[QuerySet, dict], QuerySet]  # (queryset, cleaned_data) -> queryset


_quick_filters: dict[str, QuickFilter] = {}


def register_quick_filter(quick_filter: QuickFilter) -> None:
    _quick_filters[quick_filter.name] = quick_filter


def quick_filters() -> list[QuickFilter]:
    return list(_quick_filters.values())


def search_profiles(queryset: QuerySet, value: str, *, account=None) -> QuerySet:
    """Name prefix (case-insensitive), exact phone, email or external id: each served by an index.

    The contacts matching exactly are a handful of rows found through the unique contact index and
    resolved to ids first, so the main query is one OR of indexable conditions with no join."""
    value = value.strip()
    if not value:
        return queryset
    destinations = {value.lower()}
    if value.startswith("+") or value.replace(" ", "").replace("-", "").isdigit():
        with contextlib.suppress(ValidationError):  # not a phone: the other conditions still apply
            destinations.add(normalize_phone(value))
    contacts = Contact.objects.filter(kind__in=ContactKind.values, value__in=sorted(destinations))
    if account is not None:
        contacts = contacts.filter(account=account)
    contact_profiles = list(contacts.values_list("profile_id", flat=True)[:1000])
    domain = value.lower().removeprefix("@")
    if "." in domain and " " not in domain and "@" not in domain:
        # "example.com" means everyone at that domain: marketers look a company up by its mail domain.
        at_domain = Contact.objects.filter(kind=ContactKind.EMAIL, value__endswith=f"@{domain}")
        if account is not None:
            at_domain = at_domain.filter(account=account)
        contact_profiles += list(at_domain.values_list("profile_id", flat=True)[:1000])
    condition = (
        Q(first_name__istartswith=value)
        | Q(last_name__istartswith=value)
        | Q(external_id=value)
        | Q(pk__in=contact_profiles)
    )
    parts = value.split()
    if len(parts) == 2:
        condition |= Q(first_name__iexact=parts[0], last_name__istartswith=parts[1])
    return queryset.filter(condition)


class ProfileFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Search",
        method="filter_search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, phone, email or external ID"}),
    )
    gender = django_filters.ChoiceFilter(choices=Gender.choices, empty_label="Any gender")
    type = django_filters.ChoiceFilter(choices=ProfileType.choices, empty_label="Any type")
    country = django_filters.CharFilter(
        lookup_expr="iexact", widget=forms.TextInput(attrs={"placeholder": "Any"})
    )
    city = django_filters.CharFilter(
        lookup_expr="iexact", widget=forms.TextInput(attrs={"placeholder": "Any"})
    )
    address = django_filters.CharFilter(
        lookup_expr="icontains", widget=forms.TextInput(attrs={"placeholder": "Contains…"})
    )
    created_after = django_filters.DateFilter(
        method="filter_created_after",
        label="Created from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    created_before = django_filters.DateFilter(
        method="filter_created_before",
        label="Created until",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = Profile
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, account=None, **kwargs) -> None:
        super().__init__(data, queryset, **kwargs)
        self.account = account
        for quick_filter in quick_filters():
            for name, field in quick_filter.fields(account).items():
                self.form.fields[name] = field

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return search_profiles(queryset, value, account=self.account)

    def _day_start(self, day: dt.date) -> dt.datetime:
        # Days are the account's days; comparing the column itself (not its date) uses the index.
        tz = self.account.tz if self.account is not None else dt.UTC
        return dt.datetime.combine(day, dt.time(), tzinfo=tz)

    def filter_created_after(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return queryset.filter(created_at__gte=self._day_start(value))

    def filter_created_before(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return queryset.filter(created_at__lt=self._day_start(value + dt.timedelta(days=1)))

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        # The form also holds other apps' quick-filter fields, which are not FilterSet filters.
        for name, value in self.form.cleaned_data.items():
            if name in self.filters:
                queryset = self.filters[name].filter(queryset, value)
        for quick_filter in quick_filters():
            queryset = quick_filter.apply(queryset, self.form.cleaned_data)
        return queryset
