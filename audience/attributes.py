"""Typing of custom attribute values: what a raw value (form, file, API) becomes in the JSON
column, and how a stored value is shown. One place, used by forms, imports, the API and rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from audience.models import AttributeType
from audience.templatetags.dates import when
from audience.text import text_unstorable

TRUE_WORDS = {"true", "yes", "1", "y", "t"}
FALSE_WORDS = {"false", "no", "0", "n", "f"}
TYPE_EXPECTATION = {
    AttributeType.TEXT: "text",
    AttributeType.INTEGER: "a whole number",
    AttributeType.DECIMAL: "a number",
    AttributeType.BOOLEAN: "true or false",
    AttributeType.DATE: "a date (YYYY-MM-DD)",
    AttributeType.DATETIME: "a date and time (YYYY-MM-DDTHH:MM)",
}
MAX_TEXT = 4096


def _fail(type_: str, raw: Any) -> ValidationError:
    return ValidationError(f"{raw!r} is not {TYPE_EXPECTATION[type_]}.", code="invalid")


def attribute_value_parse(type_: str, raw: Any, *, zone: dt.tzinfo = dt.UTC) -> Any:
    """Turn `raw` into the stored JSON value for `type_`; None for an empty value.

    A date-time with an offset is kept as given; a naive one is read in `zone`: UTC for the API
    (as Infobip reads them), the account's time zone for what a person types on a screen
    (`timezone.get_current_timezone()` there), in a rule (segments.rules.validate) or puts in an
    import file (imports.targets.people). A wall time that a DST change skips or repeats
    takes the offset in force before the change. Stored in UTC either way."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    if type_ == AttributeType.TEXT:
        text = str(raw).strip()
        if reason := text_unstorable(text):
            raise ValidationError(f"The text {reason}.", code="unstorable")
        if len(text) > MAX_TEXT:
            raise ValidationError(f"Text is longer than {MAX_TEXT} characters.", code="too_long")
        return text
    if type_ == AttributeType.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise _fail(type_, raw)
    if type_ == AttributeType.INTEGER:
        if isinstance(raw, bool):
            raise _fail(type_, raw)
        if isinstance(raw, int):
            return raw
        try:
            number = Decimal(str(raw).strip().replace(",", ""))
        except InvalidOperation:
            raise _fail(type_, raw) from None
        if number != number.to_integral_value():
            raise _fail(type_, raw)
        return int(number)
    if type_ == AttributeType.DECIMAL:
        if isinstance(raw, bool):
            raise _fail(type_, raw)
        if isinstance(raw, int | float):
            return raw
        try:
            number = Decimal(str(raw).strip().replace(",", ""))
        except InvalidOperation:
            raise _fail(type_, raw) from None
        if not number.is_finite():
            raise _fail(type_, raw)
        return int(number) if number == number.to_integral_value() else float(number)
    if type_ == AttributeType.DATE:
        if isinstance(raw, dt.datetime):
            return raw.date().isoformat()
        if isinstance(raw, dt.date):
            return raw.isoformat()
        parsed = _parse_date_text(str(raw).strip())
        if parsed is None:
            raise _fail(type_, raw)
        return parsed.isoformat()
    if type_ == AttributeType.DATETIME:
        if isinstance(raw, dt.datetime):
            value = raw
        elif isinstance(raw, dt.date):
            value = dt.datetime.combine(raw, dt.time())
        else:
            try:
                value = parse_datetime(str(raw).strip().replace(" ", "T", 1))
            except ValueError:
                value = None
            if value is None:
                day = _parse_date_text(str(raw).strip())
                if day is None:
                    raise _fail(type_, raw)
                value = dt.datetime.combine(day, dt.time())
        if timezone.is_naive(value):
            value = value.replace(tzinfo=zone)
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    raise ValueError(f"unknown attribute type {type_!r}")


def _parse_date_text(text: str) -> dt.date | None:
    try:
        return parse_date(text[:10]) if len(text) >= 10 else parse_date(text)
    except ValueError:
        return None


def attribute_value_display(type_: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if type_ == AttributeType.BOOLEAN:
        return "Yes" if value else "No"
    if type_ == AttributeType.DATETIME:
        # Stored in UTC; shown like every other moment, in the current (the account's) time zone.
        parsed = parse_datetime(str(value).replace("Z", "+00:00"))
        if parsed is None:
            return str(value)
        return when(parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, dt.UTC))
    return str(value)


def attribute_datetime_in_zone(value: str, zone: dt.tzinfo) -> str:
    """A stored date-time ("…Z") as ISO 8601 with the offset `zone` has at that moment
    ("2026-12-03T16:26:00+01:00"): the same moment, its wall time in `zone`."""
    parsed = parse_datetime(str(value).replace("Z", "+00:00"))
    if parsed is None:
        return str(value)
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(zone).isoformat()


def attribute_datetime_input(value: Any, zone: dt.tzinfo) -> str:
    """A stored date-time as a `datetime-local` input shows it: the wall time in `zone`."""
    if value in (None, ""):
        return ""
    parsed = parse_datetime(str(value).replace("Z", "+00:00"))
    if parsed is None:
        return str(value)
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(zone).strftime("%Y-%m-%dT%H:%M")
