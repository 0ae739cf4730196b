"""One person in the API's terms, shared by every route that names people: the payload
(`PersonIn`), the answer (`person_out`), the lookup by an Infobip identifier (`person_find`) and
the write (`person_write`, in the service's terms)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field

from audience import api_auth, services
from audience.api_errors import ApiError
from audience.api_schema import ApiIn, ApiOut, ApiTime
from audience.contacts import normalize_email, normalize_phone
from audience.fields import PROFILE_FIELDS
from audience.models import Account, Contact, Profile
from tags import selectors as tag_selectors

BATCH_LIMIT = 1000
IdentifierType = Literal["ID", "EXTERNAL_ID", "PHONE", "EMAIL"]

FIELDS = {
    **{f.api_name: f.name for f in PROFILE_FIELDS},
    "createdAt": "created_at",
    "modifiedAt": "modified_at",
}


class PhoneIn(ApiIn):
    number: str


class EmailIn(ApiIn):
    address: str


class ContactInformation(ApiIn):
    phone: list[PhoneIn] = Field(default_factory=list, max_length=100)
    email: list[EmailIn] = Field(default_factory=list, max_length=100)


class PersonIn(ApiIn):
    externalId: str | None = Field(None, max_length=256)
    type: Literal["CUSTOMER", "LEAD"] | None = None
    firstName: str | None = Field(None, max_length=255)
    lastName: str | None = Field(None, max_length=255)
    middleName: str | None = Field(None, max_length=50)
    gender: Literal["MALE", "FEMALE"] | None = None
    birthDate: dt.date | None = None
    city: str | None = Field(None, max_length=50)
    country: str | None = Field(None, max_length=50)
    address: str | None = Field(None, max_length=256)
    preferredLanguage: str | None = Field(None, max_length=16)
    tags: list[str] | None = None
    customAttributes: dict[str, Any] | None = None
    contactInformation: ContactInformation | None = None


class MessageOut(ApiOut):
    message: str


class QueryOut(ApiOut):
    type: IdentifierType
    identifier: str


class PhoneOut(ApiOut):
    number: str = Field(description="E.164 without the +")


class EmailOut(ApiOut):
    address: str


class ContactInformationOut(ApiOut):
    phone: list[PhoneOut]
    email: list[EmailOut]


class PersonOut(ApiOut):
    """A person as Infobip's v2 `IamPersonV2` gives it: empty fields are null."""

    id: int
    externalId: str | None
    type: Literal["CUSTOMER", "LEAD"]
    firstName: str | None
    lastName: str | None
    middleName: str | None
    gender: Literal["MALE", "FEMALE"] | None
    birthDate: str | None = Field(json_schema_extra={"format": "date"})
    city: str | None
    country: str | None
    address: str | None
    preferredLanguage: str | None
    tags: list[str]
    customAttributes: dict[str, Any]
    contactInformation: ContactInformationOut
    createdAt: ApiTime
    modifiedAt: ApiTime


def person_named(request: HttpRequest, type_: str, identifier: str) -> Profile:
    """The person a route's `identifier` and `type` name in the key's account (404 otherwise);
    a read-only key asking to change them gets 403 once they are found."""
    found = person_find(request.auth.account, type_, identifier)
    api_auth.row_found(request)
    return found


def iso_time(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S") if value else None


def person_out(profile: Profile, tags: list[str] | None = None) -> dict:
    contacts = list(profile.contacts.all())
    return {
        "id": profile.pk,
        "externalId": profile.external_id or None,
        "type": profile.type.upper(),
        "firstName": profile.first_name or None,
        "lastName": profile.last_name or None,
        "middleName": profile.middle_name or None,
        "gender": profile.gender.upper() or None,
        "birthDate": profile.birth_date.isoformat() if profile.birth_date else None,
        "city": profile.city or None,
        "country": profile.country or None,
        "address": profile.address or None,
        "preferredLanguage": profile.preferred_language or None,
        "tags": tags
        if tags is not None
        else tag_selectors.tag_names_for_profiles([profile.pk]).get(profile.pk, []),
        "customAttributes": profile.attributes,
        "contactInformation": {
            "phone": [{"number": c.value.lstrip("+")} for c in contacts if c.kind == "phone"],
            "email": [{"address": c.value} for c in contacts if c.kind == "email"],
        },
        "createdAt": iso_time(profile.created_at),
        "modifiedAt": iso_time(profile.modified_at),
    }


def person_find(account, type_: str, identifier: str) -> Profile:
    """The person an Infobip-style identifier names, or an ApiError 404."""
    profiles = Profile.objects.for_account(account)
    found = None
    try:
        if type_ == "ID":
            found = profiles.filter(pk=int(identifier)).first()
        elif type_ == "EXTERNAL_ID":
            found = profiles.filter(external_id=identifier).first() if identifier else None
        elif type_ in ("PHONE", "EMAIL"):
            value = normalize_phone(identifier) if type_ == "PHONE" else normalize_email(identifier)
            contact = Contact.objects.for_account(account).filter(kind=type_.lower(), value=value).first()
            found = contact.profile if contact else None
    except (ValueError, ValidationError):
        found = None
    if found is None:
        raise ApiError(404, "There is no person matching the query")
    return found


def _fields(data: PersonIn, *, replace: bool) -> dict[str, Any]:
    raw = data.model_dump(exclude_unset=not replace)
    fields: dict[str, Any] = {}
    for api_name, column in FIELDS.items():
        if api_name in ("createdAt", "modifiedAt") or api_name not in raw:
            continue
        value = raw[api_name]
        if column == "birth_date":
            fields[column] = value or None
        elif column in ("type", "gender"):
            if value is None and column == "type":
                continue
            fields[column] = (value or "").lower()
        else:
            fields[column] = value or ""
    return fields


def _contacts(data: PersonIn) -> tuple[list[str] | None, list[str] | None]:
    if data.contactInformation is None:
        return None, None
    return [p.number for p in data.contactInformation.phone], [
        e.address for e in data.contactInformation.email
    ]


def person_write(
    account: Account, data: PersonIn, *, profile: Profile | None = None, replace: bool = False
) -> Profile:
    """Create (profile None), replace (PUT) or append to (PATCH) a person: the payload in the
    service's terms (`services.profile_write`)."""
    phones, emails = _contacts(data)
    fields = _fields(data, replace=replace)
    if profile is None:
        fields.setdefault("type", "customer")  # the API's default, as Infobip's
    return services.profile_write(
        account=account,
        profile=profile,
        replace=replace,
        fields=fields,
        attributes=data.customAttributes,
        phones=phones,
        emails=emails,
        tags=data.tags,
    )


def persons_page(queryset: QuerySet, *, limit: int, page: int) -> list[dict]:
    rows = list(queryset.prefetch_related("contacts")[(page - 1) * limit : page * limit])
    names = tag_selectors.tag_names_for_profiles([p.pk for p in rows])
    return [person_out(p, names.get(p.pk, [])) for p in rows]
