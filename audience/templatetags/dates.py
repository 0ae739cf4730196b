"""One way to show dates to people, on every screen (a template builtin: no `{% load %}`).

- `{{ value|day }}`: the date, "3 Dec 2026" (a moment is shown on its own day);
- `{{ value|when }}`: a moment with its time, "3 Dec 2026, 14:05", where the time matters
  (imports, sends, events, keys);
- `{{ value|ago }}`: how long ago, "just now", "5 minutes ago", "2 days ago", then the day.

A moment is shown in the current time zone: the account's, which `CurrentAccountMiddleware`
activates for each request (UTC outside one), or the `zone` given.

Machine-readable values (`<time datetime>`, CSV, the API) keep ISO 8601 (`|date:'c'`)."""

from __future__ import annotations

import datetime as dt

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils import timezone

register = template.Library()

DAY_FORMAT = "j M Y"
MOMENT_FORMAT = "j M Y, H:i"


def _local(value, zone: dt.tzinfo | None = None):
    """An aware moment in `zone` (the current time zone by default); a naive one or a date as is."""
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        return timezone.localtime(value, zone)
    return value


@register.filter
def day(value, zone: dt.tzinfo | None = None) -> str:
    if value in (None, ""):
        return ""
    return date_filter(_local(value, zone), DAY_FORMAT)


@register.filter
def when(value, zone: dt.tzinfo | None = None) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return day(value)
    return date_filter(_local(value, zone), MOMENT_FORMAT)


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'} ago"


@register.filter
def ago(value, now=None) -> str:
    """ "just now" under a minute (never "0 minutes ago"), minutes, hours, days for a week, then
    the day itself; a moment in the future (a clock a little ahead) is "just now" too."""
    if value in (None, ""):
        return ""
    if not isinstance(value, dt.datetime):
        return day(value)
    now = now or timezone.now()
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    seconds = (now - value).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return _count(int(seconds // 60), "minute")
    if seconds < 86400:
        return _count(int(seconds // 3600), "hour")
    if seconds < 7 * 86400:
        return _count(int(seconds // 86400), "day")
    return day(value)
