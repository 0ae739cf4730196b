"""Map your data: which field each column feeds. Field keys are the rule language's attribute keys
(`phone`, `email`, `first_name`, `custom.<name>`…; `contact`, `sender`, `channel` for Do Not
Contact), so the screen, the command line and the report speak one vocabulary."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from audience import counting
from audience.fields import BY_NAME, IMPORTABLE
from audience.models import Account, AttributeDefinition, AttributeType
from imports.models import ImportKind

# The importable standard fields under their export column's name (an export imports back), then
# the keys that aren't profile columns.
PEOPLE_STANDARD = {
    **{f.name: f.export_column for f in IMPORTABLE},
    "company": "Company",
    "phone": "Phone",
    "email": "Email",
}
DNC_FIELDS = {"contact": "Contact (phone or email)", "sender": "Sender", "channel": "Channel"}
REPEATABLE = {"phone", "email"}
KEYS = {ImportKind.PEOPLE: ("phone", "email", "external_id"), ImportKind.DNC: ("contact",)}
SYNONYMS = {
    ImportKind.PEOPLE: {
        "phone": [
            "phone",
            "phones",
            "phonenumber",
            "mobile",
            "mobilephone",
            "mobilenumber",
            "msisdn",
            "tel",
            "telephone",
            "cell",
            "cellphone",
            "gsm",
            "number",
            "phone1",
            "phone2",
            "phone3",
        ],
        "email": ["email", "emails", "emailaddress", "mail", "email1", "email2", "email3"],
        **{f.name: list(f.aliases) for f in IMPORTABLE},
        "company": ["company", "companyname", "organization", "organisation", "employer"],
    },
    ImportKind.DNC: {
        "contact": [
            "contactinformation",  # Infobip's own header
            "contact",
            "destination",
            "phone",
            "phonenumber",
            "email",
            "msisdn",
            "address",
            "to",
            "number",
            "mobile",
        ],
        "sender": ["sender", "from", "senderid"],
        # Not "type": in a Do Not Contact export that is the contact's kind (Phone, Email…).
        "channel": ["channel", "channels"],
    },
}
MAX_NAME = 256


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass
class Field:
    key: str
    label: str
    type: str = "text"


def fields_for(*, account: Account, kind: str) -> list[Field]:
    if kind == ImportKind.DNC:
        return [Field(k, v) for k, v in DNC_FIELDS.items()]
    found = [
        Field(k, v, "date" if k in BY_NAME and BY_NAME[k].type == "date" else "text")
        for k, v in PEOPLE_STANDARD.items()
    ]
    for definition in AttributeDefinition.objects.for_account(account).order_by("name"):
        found.append(Field(f"custom.{definition.name}", f"{definition.name} (custom)", definition.type))
    return found


def mapping_suggest(*, account: Account, kind: str, headers: list[str]) -> list[str]:
    """A field for each header ("" = skip), from header names; a non-repeatable field once. A
    header that names a field exactly ("External id", a custom attribute) wins over a synonym
    of the same field elsewhere ("Id" of an Audience export is not an external id)."""
    exact: dict[str, str] = {}
    synonyms: dict[str, str] = {}
    for key, words in SYNONYMS[kind].items():
        for word in words:
            synonyms.setdefault(word, key)
    if kind == ImportKind.PEOPLE:
        for definition in AttributeDefinition.objects.for_account(account):
            exact[_norm(definition.name)] = f"custom.{definition.name}"
        exact.update({_norm(k): k for k in PEOPLE_STANDARD})
        exact.update({_norm(label): k for k, label in PEOPLE_STANDARD.items()})
    else:
        exact.update({_norm(label): k for k, label in DNC_FIELDS.items()})

    def lookup(table: dict[str, str], header: str) -> str:
        return table.get(_norm(header)) or table.get(_norm(re.sub(r"\d+$", "", header.strip())), "")

    suggested = [lookup(exact, header) for header in headers]
    used = set(suggested)
    for index, header in enumerate(headers):
        if suggested[index]:
            continue
        key = lookup(synonyms, header)
        if key and key not in REPEATABLE and key in used:
            key = ""
        used.add(key)
        suggested[index] = key
    for index, key in enumerate(suggested):  # an exact name twice: the first column keeps it
        if key and key not in REPEATABLE and key in suggested[:index]:
            suggested[index] = ""
    return suggested


def mapping_suggest_by_values(*, kind: str, rows: list[list[str]]) -> list[str]:
    """For a file without a header row: a column whose first values are phone numbers or email
    addresses feeds phone / email (people) or contact (Do Not Contact, the first such column)."""
    from imports import files

    width = max((len(row) for row in rows), default=0)
    suggested = [""] * width
    for index in range(width):
        values = [row[index] for row in rows[:10] if index < len(row) and row[index]]
        if not values:
            continue
        if all(files.email_like(v) for v in values):
            field = "email"
        elif all(files.phone_like(v) for v in values):
            field = "phone"
        else:
            continue
        if kind == ImportKind.DNC:
            if "contact" not in suggested:
                suggested[index] = "contact"
        else:
            suggested[index] = field
    return suggested


def mapping_validate(*, account: Account, kind: str, mapping: list[str]) -> list[str]:
    """The mapping with unknown fields refused; at least one key field; single fields once."""
    known = {f.key for f in fields_for(account=account, kind=kind)}
    lowered = {k.lower(): k for k in known}
    clean, errors = [], []
    for key in mapping:
        key = (key or "").strip()
        if key and key not in known:
            if key.lower() in lowered:
                key = lowered[key.lower()]
            else:
                errors.append(f"{key!r} is not a field: choose one of {', '.join(sorted(known))}.")
        clean.append(key)
    for key in set(clean) - REPEATABLE - {""}:
        if clean.count(key) > 1:
            errors.append(f"{key} is mapped to {clean.count(key)} columns: map it to one column.")
    if not any(key in KEYS[kind] for key in clean):
        needed = " or ".join(KEYS[kind]) if kind == ImportKind.PEOPLE else "contact"
        errors.append(f"Map at least one column to {needed}: it identifies each row.")
    if errors:
        raise ValidationError(errors)
    return clean


def mapping_from_pairs(*, headers: list[str], pairs: list[str], base: list[str] | None = None) -> list[str]:
    """`Header=field` pairs (the command line's --map) over `base` (the suggested mapping, as the
    screen starts from; None: every column skipped). `Header=` skips a suggested column."""
    by_header = {h.strip().lower(): i for i, h in enumerate(headers)}
    mapping = list(base or []) + [""] * (len(headers) - len(base or []))
    for pair in pairs:
        header, sep, key = pair.rpartition("=")
        if not sep:
            raise ValidationError(f"--map {pair!r} is not Header=field.")
        index = by_header.get(header.strip().lower())
        if index is None:
            raise ValidationError(f"There is no column {header!r}: the columns are {', '.join(headers)}.")
        mapping[index] = key.strip()
    return mapping


def attribute_field_create(*, account: Account, name: str, type: str) -> str:
    """ "Add new field": a custom attribute of `type`; an existing one of the same type is reused.
    Returns the field key."""
    name = name.strip()
    if not name:
        raise ValidationError("Enter the new field's name.")
    if len(name) > MAX_NAME:
        raise ValidationError(f"A field name has at most {MAX_NAME} characters.")
    if _norm(name) in {_norm(k) for k in PEOPLE_STANDARD} or "." in name:
        raise ValidationError(f"{name!r} is a standard field or not a valid name: choose another name.")
    if type not in AttributeType.values:
        raise ValidationError(f"{type!r} is not an attribute type.")
    existing = AttributeDefinition.objects.for_account(account).filter(name__iexact=name).first()
    if existing is None:
        try:
            with transaction.atomic():
                existing = AttributeDefinition.objects.create(account=account, name=name, type=type)
                counting.data_changed(account_ids=[account.pk])
        except IntegrityError:
            existing = AttributeDefinition.objects.for_account(account).get(name__iexact=name)
    if existing.type != type:
        raise ValidationError(
            f"A custom attribute {existing.name!r} exists with type {existing.get_type_display()}: map the column to it."
        )
    return f"custom.{existing.name}"
