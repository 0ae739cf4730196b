"""How Do Not Contact reads contacts, destinations and senders.

On the way in (`contact_parse`) a contact is validated: a phone in international format (E.164),
an email (lower-cased) or a whole email domain. On the way out (`destination_normalize`) a
destination is normalised the same way, so `+385 91 …`, `00385 91…` and `38591…` are one
destination; an email is only lower-cased there (an address that is not valid can't be sent to,
so blocking it is harmless).

`destination_normalize_fast` answers the same as `destination_normalize` for the batch check:
parsing with `phonenumbers` costs ~37 µs a number, too slow for a million, so a number already in
E.164 shape is taken as it is unless phonenumbers could rewrite it: when its national part starts
with something its country's metadata strips as a national prefix, it goes the slow way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

from audience.contacts import normalize_email, normalize_phone
from dnc.models import Kind

_domain_validator = DomainNameValidator(accept_idna=False)
_phone_like = re.compile(r"^\+?[\d\s().\-/]+$")
_e164_shape = re.compile(r"^\+[1-9]\d{5,16}$")


def contact_parse(raw: str) -> tuple[str, str]:
    """(kind, normalised value) of a contact to block, or ValidationError."""
    text = str(raw or "").strip()
    if not text:
        raise ValidationError("Enter a phone number, an email address or an email domain.", code="empty")
    if len(text) > 255:
        raise ValidationError("A contact has at most 255 characters.", code="too_long")
    if "@" in text and not text.startswith("@"):
        return Kind.EMAIL, normalize_email(text)
    if text.startswith("@") or any(char.isalpha() for char in text):
        domain = text.lstrip("@").lower()
        try:
            _domain_validator(domain)
        except ValidationError:
            raise ValidationError(
                f"{text} is not an email domain such as example.com.", code="invalid_domain"
            ) from None
        return Kind.DOMAIN, domain
    return Kind.PHONE, normalize_phone(text)


def destination_parse(raw: str) -> tuple[str | None, str]:
    """(normalised destination, "") when adding it to the list would be accepted, else
    (None, why not): the blocklist check validates exactly as `contact_parse` does, except that
    a domain is no destination."""
    try:
        kind, value = contact_parse(raw)
    except ValidationError as error:
        return None, " ".join(error.messages)
    if kind == Kind.DOMAIN:
        return None, f"{str(raw).strip()} is neither a phone number nor an email address."
    return value, ""


def sender_normalize(raw: str) -> str:
    """A sender as stored and as compared: a phone-number sender in E.164 when it is a valid
    number (short codes stay as they are), an email sender lower-cased, others trimmed."""
    text = str(raw or "").strip()
    if "@" in text:
        return text.lower()
    if text and _phone_like.match(text):
        try:
            return normalize_phone(text)
        except ValidationError:
            return re.sub(r"[\s().\-/]", "", text)
    return text


def destination_normalize(raw: str) -> str | None:
    """The normalised destination, or None when it is neither a valid phone nor an email."""
    text = str(raw or "").strip()
    if "@" in text:
        return text.lower()
    try:
        return normalize_phone(text)
    except ValidationError:
        return None


def _prefix_patterns() -> dict[str, tuple[re.Pattern, int]]:
    """For each country code, the national prefixes phonenumbers strips when it parses a number
    (`national_prefix_for_parsing` of each of its regions, one alternation), and where the
    national part starts in "+<code>…"."""
    patterns: dict[str, tuple[re.Pattern, int]] = {}
    for code, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        found: list[str] = []
        for region in regions:
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
            if metadata is None:
                continue
            for prefix in (metadata.national_prefix_for_parsing, metadata.national_prefix):
                if prefix and prefix not in found:
                    found.append(prefix)
        pattern = "|".join(f"(?:{prefix})" for prefix in found) if found else r"(?!)"  # (?!) strips nothing
        patterns[str(code)] = (re.compile(pattern), 1 + len(str(code)))
    return patterns


_prefixes = _prefix_patterns()
# The same, keyed by the first three digits after "+" (one lookup instead of three).
_by_lead = {
    f"{lead:03d}": found
    for lead in range(1000)
    for found in [
        _prefixes.get(f"{lead:03d}"[:1]) or _prefixes.get(f"{lead:03d}"[:2]) or _prefixes.get(f"{lead:03d}")
    ]
    if found is not None
}


def destinations_normalize_fast(raws: Iterable[str]) -> Iterator[str]:
    """`destination_normalize` of each, skipping those that are not valid, without parsing the
    numbers already in E.164 shape that phonenumbers would keep as they are (~1 µs each).
    Codes are prefix-free, so the first of "+1", "+12", "+123" found is the country code."""
    shape = _e164_shape.match
    by_lead = _by_lead
    slow = destination_normalize
    for raw in raws:
        if type(raw) is not str:
            raw = str(raw)
        if shape(raw):
            found = by_lead.get(raw[1:4])
            if found is not None and not found[0].match(raw, found[1]):
                yield raw
                continue
        value = slow(raw)
        if value is not None:
            yield value


def destination_normalize_fast(raw: str) -> str | None:
    """Same answer as `destination_normalize` (None when not valid), by the fast path."""
    return next(destinations_normalize_fast([raw]), None)
