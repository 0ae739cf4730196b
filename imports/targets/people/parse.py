"""Parsing and validation of one row of a people import: a `Record` of normalised values, or
`RowRejected` with the reason."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from audience.attributes import attribute_value_parse
from audience.contacts import normalize_email
from audience.models import AttributeType, Profile
from imports.phones import normalize_phone_fast

MAX_CONTACTS = 100
GENDERS = {"male": "male", "m": "male", "man": "male", "female": "female", "f": "female", "woman": "female"}
REASONS = {
    "no_key": "No phone, email or external id",
    "phone": "Invalid phone",
    "email": "Invalid email",
    "value": "Invalid value",
    "duplicate": "Duplicate inside the file",
    "conflict": "Matches two different profiles",
    "too_many_contacts": f"More than {MAX_CONTACTS} contacts",
}


class RowRejected(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Record:
    row_no: int
    cells: list[str]
    external_id: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    company: str = ""
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    profile_id: int | None = None  # the existing profile it matches


@dataclass
class Outcome:
    record: Record
    result: str  # new, changed, same, rejected
    code: str = ""
    message: str = ""


@functools.cache  # once a field, not once a cell
def _max_length(name: str) -> int:
    return Profile._meta.get_field(name).max_length


class Parsing:
    """`PeopleTarget`'s parsing: reads `self.columns`."""

    columns: list[tuple[int, str, str]]
    zone: dt.tzinfo  # where a date-time without an offset is read

    def parse(self, row_no: int, cells: list[str]) -> Record:
        record = Record(row_no=row_no, cells=cells)
        for index, key, type_ in self.columns:
            raw = cells[index].strip() if index < len(cells) else ""
            if not raw:
                continue
            if key == "phone":
                # "a; b": several in one cell, as the People export writes them.
                for part in raw.split(";") if ";" in raw else (raw,):
                    if not (part := part.strip()):
                        continue
                    try:
                        value = normalize_phone_fast(part)
                    except ValidationError as error:
                        raise RowRejected("phone", error.messages[0]) from None
                    if value not in record.phones:
                        record.phones.append(value)
            elif key == "email":
                for part in raw.split(";") if ";" in raw else (raw,):
                    if not (part := part.strip()):
                        continue
                    try:
                        value = normalize_email(part)
                    except ValidationError as error:
                        raise RowRejected("email", error.messages[0]) from None
                    if value not in record.emails:
                        record.emails.append(value)
            elif key == "company":
                if len(raw) > 255:
                    raise RowRejected("value", "Company is longer than 255 characters.")
                record.company = raw
            elif key.startswith("custom."):
                try:
                    record.attributes[key[7:]] = attribute_value_parse(type_, raw, zone=self.zone)
                except ValidationError as error:
                    raise RowRejected("value", f"{key[7:]}: {error.messages[0]}") from None
            else:
                record.fields[key] = self._standard(key, raw)
        record.external_id = record.fields.pop("external_id", "")
        if not (record.phones or record.emails or record.external_id):
            raise RowRejected("no_key", "The row has no phone, email or external id.")
        if len(record.phones) + len(record.emails) > MAX_CONTACTS:
            raise RowRejected("too_many_contacts", f"The row has more than {MAX_CONTACTS} contacts.")
        return record

    def _standard(self, key: str, raw: str) -> Any:
        if key == "gender":
            gender = GENDERS.get(raw.lower())
            if gender is None:
                raise RowRejected("value", f"Gender: {raw!r} is not male or female.")
            return gender
        if key == "birth_date":
            try:
                return dt.date.fromisoformat(attribute_value_parse(AttributeType.DATE, raw))
            except ValidationError:
                raise RowRejected("value", f"Birth date: {raw!r} is not a date (YYYY-MM-DD).") from None
        limit = _max_length(key)
        if len(raw) > limit:
            raise RowRejected(
                "value", f"{key.replace('_', ' ').capitalize()} is longer than {limit} characters."
            )
        return raw

    # The analysis keeps each valid row's parsed values (one JSON line per chunk, see
    # imports.runs), so the import writes without validating again.
    @staticmethod
    def dump(record: Record) -> list:
        fields = record.fields
        if "birth_date" in fields:
            fields = {**fields, "birth_date": fields["birth_date"].isoformat()}
        return [
            record.row_no,
            record.external_id,
            fields,
            record.company,
            record.phones,
            record.emails,
            record.attributes,
        ]

    @staticmethod
    def load(data: list) -> Record:
        row_no, external_id, fields, company, phones, emails, attributes = data
        if "birth_date" in fields:
            fields["birth_date"] = dt.date.fromisoformat(fields["birth_date"])
        return Record(
            row_no=row_no,
            cells=[],
            external_id=external_id,
            fields=fields,
            company=company,
            phones=phones,
            emails=emails,
            attributes=attributes,
        )

    def dump_chunk(self, records: list[Record]) -> list:
        return [self.dump(r) for r in records]

    def load_chunk(self, data: list) -> list[Record]:
        return [self.load(item) for item in data]

    @staticmethod
    def keys(record: Record) -> list[str]:
        return (
            [f"phone {p}" for p in record.phones]
            + [f"email {e}" for e in record.emails]
            + ([f"external id {record.external_id}"] if record.external_id else [])
        )
