"""People quick filters from the message rows: "contacted within a period" and "reached over
channel". Registered with `audience.filters.register_quick_filter` by CommunicationsConfig."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from audience.filters import QuickFilter
from communications.models import BROADCAST_CHANNELS, HANDED_OVER, Message

PERIODS = [
    ("", "Any time"),
    ("1", "Last 24 hours"),
    ("7", "Last 7 days"),
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
]


@dataclass(frozen=True)
class _Scoped:
    account_id: int | None
    value: str


class _AccountChoiceField(forms.ChoiceField):
    """A choice that remembers the account it was built for, so the message subquery starts
    with the account (the leading column of its index) even though `apply` gets no account."""

    def __init__(self, *args, account_id: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.account_id = account_id

    def clean(self, value):
        value = super().clean(value)
        return _Scoped(self.account_id, value) if value else None


def _messages(scoped: _Scoped) -> QuerySet:
    # Handed over, whatever the provider reported since (delivered, undeliverable, expired).
    messages = Message.objects.filter(status__in=HANDED_OVER)
    if scoped.account_id is not None:
        messages = messages.filter(account_id=scoped.account_id)
    return messages


def _contacted_fields(account) -> dict[str, forms.Field]:
    return {
        "contacted_within": _AccountChoiceField(
            choices=PERIODS, required=False, label="Contacted within", account_id=getattr(account, "pk", None)
        )
    }


def _contacted_apply(queryset: QuerySet, data: dict) -> QuerySet:
    scoped = data.get("contacted_within")
    if not scoped:
        return queryset
    since = timezone.now() - dt.timedelta(days=int(scoped.value))
    return queryset.filter(pk__in=_messages(scoped).filter(created_at__gte=since).values("profile_id"))


def _reached_fields(account) -> dict[str, forms.Field]:
    return {
        "reached_channel": _AccountChoiceField(
            choices=[("", "Any channel"), *BROADCAST_CHANNELS],
            required=False,
            label="Reached over",
            account_id=getattr(account, "pk", None),
        )
    }


def _reached_apply(queryset: QuerySet, data: dict) -> QuerySet:
    scoped = data.get("reached_channel")
    if not scoped:
        return queryset
    return queryset.filter(pk__in=_messages(scoped).filter(channel=scoped.value).values("profile_id"))


CONTACTED = QuickFilter(name="contacted_within", fields=_contacted_fields, apply=_contacted_apply)
REACHED = QuickFilter(name="reached_channel", fields=_reached_fields, apply=_reached_apply)
