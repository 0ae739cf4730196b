"""Phone validation for big files: the same answers as `audience.contacts.normalize_phone`, faster.

`phonenumbers.parse` costs most of the ~15–40 µs a number takes. A number already in E.164 shape
(after the spaces, dots, dashes and brackets people type are removed, and `00` becomes `+`) needs
no parsing: its country code is the first of `+1`, `+12`, `+123` that exists (codes are
prefix-free) and the rest is the national number. Such a number is checked with
phonenumbers' own patterns (compiled once per country code) and kept as it is. Anything else — a
national part that starts with `0` or with something the country strips as a national prefix
(phonenumbers would rewrite it), no E.164 shape — goes the slow way. `tests/imports/
test_speed_paths.py` compares both on thousands of numbers, messages included.
"""

from __future__ import annotations

import re

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumber, is_valid_number

from audience.contacts import normalize_phone

_junk = re.compile(r"[\s().\-/]")
_e164_shape = re.compile(r"\+[1-9]\d{5,16}")


def _national_prefixes() -> dict[str, tuple[int, re.Pattern]]:
    """{country code: (its value, the national prefixes phonenumbers strips when parsing)}."""
    found: dict[str, tuple[int, re.Pattern]] = {}
    for code, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        prefixes: list[str] = []
        for region in regions:
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
            if metadata is None:
                continue
            for prefix in (metadata.national_prefix_for_parsing, metadata.national_prefix):
                if prefix and prefix not in prefixes:
                    prefixes.append(prefix)
        pattern = "|".join(f"(?:{prefix})" for prefix in prefixes) if prefixes else r"(?!)"
        found[str(code)] = (code, re.compile(pattern))
    return found


_codes = _national_prefixes()
_validators: dict[int, tuple | None] = {}


def _desc(desc) -> tuple | None:
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length), re.compile(desc.national_number_pattern).fullmatch


def _validator(code: int) -> tuple | None:
    """For a country code of one region: its general pattern and the patterns of every number
    type — `phonenumbers.is_valid_number` is "matches the general description and one of the
    types" (`_number_type_helper` is not UNKNOWN), here without its per-call lookups. None for
    codes shared by several regions (+1, +7, +44…): those ask phonenumbers."""
    if code not in _validators:
        regions = COUNTRY_CODE_TO_REGION_CODE.get(code, ())
        metadata = PhoneMetadata.metadata_for_region(regions[0]) if len(regions) == 1 else None
        general = _desc(metadata.general_desc) if metadata is not None else None
        if general is None:
            _validators[code] = None
        else:
            types = (  # any one matching makes it valid: the common types first, tried least
                metadata.mobile,
                metadata.fixed_line,
                metadata.premium_rate,
                metadata.toll_free,
                metadata.shared_cost,
                metadata.voip,
                metadata.personal_number,
                metadata.pager,
                metadata.uan,
                metadata.voicemail,
            )
            _validators[code] = (general, [d for d in map(_desc, types) if d is not None])
    return _validators[code]


def _valid(code: int, national: str) -> bool:
    found = _validator(code)
    if found is None:
        return is_valid_number(PhoneNumber(country_code=code, national_number=int(national)))
    (lengths, match), types = found
    size = len(national)
    if (lengths and size not in lengths) or not match(national):
        return False
    return any((not sizes or size in sizes) and matches(national) for sizes, matches in types)


def normalize_phone_fast(raw: str) -> str:
    """E.164 of `raw`, or ValidationError — exactly as `normalize_phone`."""
    text = raw.strip()
    if not _e164_shape.fullmatch(text):
        text = _junk.sub("", text)
        if text.startswith("00"):
            text = "+" + text[2:]
        elif text[:1] not in ("+", "0"):
            text = "+" + text
        if not _e164_shape.fullmatch(text):
            return normalize_phone(raw)
    for length in (1, 2, 3):
        found = _codes.get(text[1 : 1 + length])
        if found is not None:
            national = text[1 + length :]
            if national[:1] != "0" and not found[1].match(national):
                if _valid(found[0], national):
                    return text
                return normalize_phone(raw)  # it says why (too short, …): rare, so the slow way
            break
    return normalize_phone(raw)
