"""Normalisation of destinations, the same on the way in (imports, forms, API) and on the way out
(Do Not Contact checks, sending): `+385 91 …`, `00385 91…` and `38591…` are one destination."""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

PHONE_EXAMPLE = "+44 7911 123456"
_email_validator = EmailValidator()
_phone_junk = re.compile(r"[\s().\-/]")


def normalize_phone(raw: str) -> str:
    """Return the E.164 form of a phone in international format, or raise ValidationError."""
    text = _phone_junk.sub("", str(raw or "").strip())
    if not text:
        raise ValidationError("Enter a phone number.", code="empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text.startswith("0"):
        raise ValidationError(
            f"{raw!s} is not in international format: start with the country code, e.g. {PHONE_EXAMPLE}.",
            code="not_international",
        )
    elif not text.startswith("+"):
        text = "+" + text
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as error:
        if error.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            message = (
                f"{raw!s} does not start with a country code: use international format, e.g. {PHONE_EXAMPLE}."
            )
        else:
            message = f"{raw!s} is not a phone number: use international format, e.g. {PHONE_EXAMPLE}."
        raise ValidationError(message, code="invalid") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(f"{raw!s} {phone_invalid_reason(number)}.", code="invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_POSSIBLE = phonenumbers.ValidationResult
_LENGTH_REASONS = {
    _POSSIBLE.TOO_SHORT: "too short",
    _POSSIBLE.TOO_LONG: "too long",
    _POSSIBLE.INVALID_LENGTH: "it has the wrong number of digits",
    _POSSIBLE.IS_POSSIBLE_LOCAL_ONLY: "too short",
}


def phone_invalid_reason(number: phonenumbers.PhoneNumber) -> str:
    """Why a parsed number in international format is not valid, naming its country: a number
    that is international but refused must not be told to "use international format"."""
    from phonenumbers import geocoder

    code = number.country_code
    regions = phonenumbers.region_codes_for_country_code(code)
    if not regions:
        return f"does not start with a country code (+{code} is none): use international format, e.g. {PHONE_EXAMPLE}"
    name = (
        geocoder._region_display_name(regions[0], "en") if len(regions) == 1 and regions[0] != "001" else ""
    )
    where = f"{name} (+{code})" if name else f"+{code}"
    reason = _LENGTH_REASONS.get(phonenumbers.is_possible_number_with_reason(number))
    if reason is None:  # a possible length, but no number range of the country starts like this
        reason = "no number of that length starts with these digits"
    return f"is not a valid number for {where}: {reason}"


def normalize_email(raw: str) -> str:
    """Return the lower-cased email, or raise ValidationError."""
    text = str(raw or "").strip().lower()
    if not text:
        raise ValidationError("Enter an email address.", code="empty")
    try:
        _email_validator(text)
    except ValidationError:
        raise ValidationError(f"{raw!s} is not a valid email address.", code="invalid") from None
    return text


def normalize_contact(kind: str, raw: str) -> str:
    return normalize_phone(raw) if kind == "phone" else normalize_email(raw)
