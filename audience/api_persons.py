"""Persons and custom attributes: `/people/2/persons`, `/people/2/customAttributes`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Field, Router

from audience import services
from audience.api_errors import ApiError
from audience.api_schema import ApiIn, limit_query, order_query, page_query
from audience.contacts import normalize_email, normalize_phone
from audience.fields import PROFILE_FIELDS
from audience.models import Account, AttributeDefinition, AttributeType, Contact, Profile
from tags import selectors as tag_selectors

persons = Router(tags=["Persons"])
custom_attributes = Router(tags=["Custom attributes"])

BATCH_LIMIT = 1000
LIST_LIMIT = 1000
IdentifierType = Literal["ID", "EXTERNAL_ID", "PHONE", "EMAIL"]

FIELDS = {
    **{f.api_name: f.name for f in PROFILE_FIELDS},
    "createdAt": "created_at",
    "modifiedAt": "modified_at",
}
ORDERABLE = {"firstName", "lastName", "createdAt", "modifiedAt", "id"}
DATA_TYPES = {
    "STRING": AttributeType.TEXT,
    "INTEGER": AttributeType.INTEGER,
    "DECIMAL": AttributeType.DECIMAL,
    "BOOLEAN": AttributeType.BOOLEAN,
    "DATE": AttributeType.DATE,
    "DATE_TIME": AttributeType.DATETIME,
}
DATA_TYPE_NAMES = {v: k for k, v in DATA_TYPES.items()}


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


class Query(ApiIn):
    type: IdentifierType
    identifier: str


class QueryItem(ApiIn):
    query: Query


class UpdateItem(ApiIn):
    query: Query
    update: PersonIn


class BatchCreate(ApiIn):
    people: list[PersonIn] = Field(..., min_length=1, max_length=BATCH_LIMIT)


class BatchUpdate(ApiIn):
    people: list[UpdateItem] = Field(..., min_length=1, max_length=BATCH_LIMIT)


class BatchDelete(ApiIn):
    people: list[QueryItem] = Field(..., min_length=1, max_length=BATCH_LIMIT)


class CustomAttributeIn(ApiIn):
    name: str = Field(..., max_length=256)
    dataType: Literal["STRING", "INTEGER", "DECIMAL", "BOOLEAN", "DATE", "DATE_TIME"]


def _iso(value) -> str | None:
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
        "createdAt": _iso(profile.created_at),
        "modifiedAt": _iso(profile.modified_at),
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


# The filter language of GET /people/2/persons: {"#and": [...]}, {"#or": [...]}, {"field": value},
# {"#contains": {"field": value}}, ... over standard fields and `tags`.
COMPARISONS = {
    "#eq": "exact",
    "#ne": "exact",
    "#contains": "icontains",
    "#notContain": "icontains",
    "#startsWith": "istartswith",
    "#endsWith": "iendswith",
    "#gt": "gt",
    "#lt": "lt",
    "#gte": "gte",
    "#lte": "lte",
}
NEGATED = {"#ne", "#notContain"}


def _condition(field: str, lookup: str, value: Any, path: str, *, account: Account) -> Q:
    if field == "tags":
        if lookup not in ("exact", "icontains"):
            raise ApiError(400, "Bad request", {path: ["tags take #contains, #notContain or equality"]})
        links = tag_selectors.profile_tag_links(account=account, names=[str(value)])
        return Q(pk__in=links.values("profile_id"))
    column = FIELDS.get(field)
    if column is None:
        raise ApiError(400, "Bad request", {path: [f"unknown field {field!r}"]})
    if column in ("type", "gender") and isinstance(value, str):
        value = value.lower()
    if (
        lookup == "exact"
        and isinstance(value, str)
        and column not in ("birth_date", "created_at", "modified_at")
    ):
        lookup = "iexact"
    return Q(**{f"{column}__{lookup}": value})


def filter_q(node: Any, path: str = "filter", *, account: Account) -> Q:
    if not isinstance(node, dict) or len(node) != 1:
        raise ApiError(400, "Bad request", {path: ["each filter node is an object with one key"]})
    ((key, value),) = node.items()
    if key in ("#and", "#or"):
        if not isinstance(value, list) or not value:
            raise ApiError(400, "Bad request", {path: [f"{key} takes a non-empty list"]})
        parts = [filter_q(item, f"{path}.{key}[{i}]", account=account) for i, item in enumerate(value)]
        combined = parts[0]
        for part in parts[1:]:
            combined = combined & part if key == "#and" else combined | part
        return combined
    if key in COMPARISONS:
        if not isinstance(value, dict) or len(value) != 1:
            raise ApiError(400, "Bad request", {path: [f"{key} takes an object with one field"]})
        ((field, operand),) = value.items()
        q = _condition(field, COMPARISONS[key], operand, f"{path}.{key}", account=account)
        return ~q if key in NEGATED else q
    if key.startswith("#"):
        raise ApiError(400, "Bad request", {path: [f"unknown operator {key!r}"]})
    return _condition(key, "exact", value, path, account=account)


def _order(order_by: str) -> list[str]:
    field, _, direction = order_by.partition(":")
    if field not in ORDERABLE or direction not in ("", "asc", "desc"):
        raise ApiError(
            400,
            "Bad request",
            {"orderBy": ["use firstName, lastName, createdAt or modifiedAt with :asc or :desc"]},
        )
    column = "id" if field == "id" else FIELDS[field]
    sign = "-" if direction == "desc" else ""
    return [f"{sign}{column}", f"{sign}id"]


def persons_page(queryset: QuerySet, *, limit: int, page: int) -> list[dict]:
    rows = list(queryset.prefetch_related("contacts")[(page - 1) * limit : page * limit])
    names = tag_selectors.tag_names_for_profiles([p.pk for p in rows])
    return [person_out(p, names.get(p.pk, [])) for p in rows]


@persons.get("", summary="Get a single person or a list of people")
def persons_get(
    request: HttpRequest,
    identifier: str | None = None,
    type: IdentifierType | None = None,
    limit: int = limit_query(20, LIST_LIMIT),
    page: int = page_query(1),
    orderBy: str = order_query("id:asc", sorted(ORDERABLE), ":"),
    filter: str | None = None,
    includeTotalCount: bool = False,
):
    account = request.auth.account
    if identifier:
        return person_out(person_find(account, type or "ID", identifier))
    if not 1 <= limit <= LIST_LIMIT:
        raise ApiError(400, "Bad request", {"limit": [f"must be between 1 and {LIST_LIMIT}"]})
    if page < 1:
        raise ApiError(400, "Bad request", {"page": ["must be 1 or more"]})
    queryset = Profile.objects.for_account(account)
    if filter:
        try:
            parsed = json.loads(filter)
        except ValueError:
            raise ApiError(400, "Bad request", {"filter": ["not valid JSON"]}) from None
        queryset = queryset.filter(filter_q(parsed, account=account))
    queryset = queryset.order_by(*_order(orderBy))
    body = {
        "limit": limit,
        "page": page,
        "orderBy": orderBy,
        "persons": persons_page(queryset, limit=limit, page=page),
    }
    if includeTotalCount:
        body["totalCount"] = queryset.count()
    return body


@persons.post("", summary="Create a new person")
def person_create(request: HttpRequest, payload: PersonIn):
    try:
        profile = person_write(request.auth.account, payload)
    except ValidationError as error:
        raise _conflict_or_invalid(error) from None
    return person_out(profile)


def _conflict_or_invalid(error: ValidationError) -> ApiError:
    errors = error.message_dict if hasattr(error, "error_dict") else {"person": error.messages}
    text = " ".join(m for messages in errors.values() for m in messages)
    status = 409 if "already belongs" in text or "Another profile" in text else 400
    return ApiError(status, "Conflict" if status == 409 else "Bad request", errors)


@persons.put("", summary="Replace a person (missing attributes are emptied)")
def person_replace(request: HttpRequest, identifier: str, type: IdentifierType, payload: PersonIn):
    profile = person_find(request.auth.account, type, identifier)
    try:
        person_write(request.auth.account, payload, profile=profile, replace=True)
    except ValidationError as error:
        raise _conflict_or_invalid(error) from None
    profile.refresh_from_db()
    return person_out(profile)


@persons.patch("", summary="Update a person (tags, phones and emails are appended)")
def person_patch(request: HttpRequest, identifier: str, type: IdentifierType, payload: PersonIn):
    profile = person_find(request.auth.account, type, identifier)
    try:
        person_write(request.auth.account, payload, profile=profile)
    except ValidationError as error:
        raise _conflict_or_invalid(error) from None
    profile.refresh_from_db()
    return person_out(profile)


@persons.delete("", summary="Delete a person")
def person_delete(request: HttpRequest, identifier: str, type: IdentifierType):
    profile = person_find(request.auth.account, type, identifier)
    services.profile_delete(profile=profile)
    return {"id": profile.pk if profile.pk else None, "deleted": True}


def _batch_limit(items: list) -> None:
    if not items:
        raise ApiError(400, "Bad request", {"people": ["must hold at least one item"]})
    if len(items) > BATCH_LIMIT:
        raise ApiError(400, "Bad request", {"people": [f"must hold at most {BATCH_LIMIT} items"]})


def _item_error(error: Exception) -> dict:
    if isinstance(error, ApiError):
        messages = [error.text] + [m for ms in (error.errors or {}).values() for m in ms]
        return {"status": error.status, "errors": [{"message": m} for m in messages]}
    api_error = _conflict_or_invalid(error)
    messages = [m for ms in (api_error.errors or {}).values() for m in ms]
    return {"status": api_error.status, "errors": [{"message": m} for m in messages]}


def _batch_response(results: list[dict]):
    status = 200 if all(r["status"] in (200, 201) for r in results) else 207
    return status, {"results": results}


@persons.post("/batch", summary="Create people in a batch (at most 1000)", response={200: dict, 207: dict})
def persons_batch_create(request: HttpRequest, payload: BatchCreate):
    _batch_limit(payload.people)
    results = []
    for index, item in enumerate(payload.people):
        try:
            profile = person_write(request.auth.account, item)
            results.append({"index": index, "status": 200, "id": profile.pk})
        except (ValidationError, ApiError) as error:
            results.append({"index": index, **_item_error(error)})
    return _batch_response(results)


@persons.patch(
    "/batch",
    summary="Update people in a batch (append semantics, at most 1000)",
    response={200: dict, 207: dict},
)
def persons_batch_update(request: HttpRequest, payload: BatchUpdate):
    _batch_limit(payload.people)
    results = []
    for item in payload.people:
        query = item.query.model_dump()
        try:
            profile = person_find(request.auth.account, item.query.type, item.query.identifier)
            person_write(request.auth.account, item.update, profile=profile)
            results.append({"query": query, "status": 200, "id": profile.pk})
        except (ValidationError, ApiError) as error:
            results.append({"query": query, **_item_error(error)})
    return _batch_response(results)


@persons.delete("/batch", summary="Delete people in a batch (at most 1000)", response={200: dict, 207: dict})
def persons_batch_delete(request: HttpRequest, payload: BatchDelete):
    _batch_limit(payload.people)
    results = []
    for item in payload.people:
        query = item.query.model_dump()
        try:
            profile = person_find(request.auth.account, item.query.type, item.query.identifier)
            services.profile_delete(profile=profile)
            results.append({"query": query, "status": 200})
        except ApiError as error:
            results.append({"query": query, **_item_error(error)})
    return _batch_response(results)


def _attribute_out(definition: AttributeDefinition) -> dict:
    return {
        "name": definition.name,
        "dataType": DATA_TYPE_NAMES[definition.type],
        "createdAt": _iso(definition.created_at),
        "modifiedAt": _iso(definition.created_at),
    }


def _attribute(account, name: str) -> AttributeDefinition:
    found = AttributeDefinition.objects.for_account(account).filter(name__iexact=name).first()
    if found is None:
        raise ApiError(404, f"There is no custom attribute named {name!r}.")
    return found


@custom_attributes.get("", summary="List custom attributes")
def attributes_list(
    request: HttpRequest,
    limit: int = limit_query(100, LIST_LIMIT),
    page: int = page_query(1),
    includeTotalCount: bool = False,
):
    if not 1 <= limit <= LIST_LIMIT or page < 1:
        raise ApiError(400, "Bad request", {"limit": [f"limit is 1 to {LIST_LIMIT}, page 1 or more"]})
    queryset = AttributeDefinition.objects.for_account(request.auth.account).order_by("name")
    body = {
        "limit": limit,
        "page": page,
        "orderBy": "name:asc",
        "customAttributes": [_attribute_out(d) for d in queryset[(page - 1) * limit : page * limit]],
    }
    if includeTotalCount:
        body["totalCount"] = queryset.count()
    return body


@custom_attributes.post("", summary="Create a custom attribute")
def attribute_create(request: HttpRequest, payload: CustomAttributeIn):
    account = request.auth.account
    name = payload.name.strip()
    if any(ch in name for ch in "{}[]"):
        raise ApiError(400, "Bad request", {"name": ["a name may not hold { } [ or ]"]})
    if AttributeDefinition.objects.for_account(account).filter(name__iexact=name).exists():
        raise ApiError(409, "Duplicate", {"name": [f"{name!r} exists already."]})
    definition = services.attribute_definition_create(
        account=account, name=name, type=DATA_TYPES[payload.dataType]
    )
    return _attribute_out(definition)


@custom_attributes.get("/{path:name}", summary="Get a custom attribute")
def attribute_get(request: HttpRequest, name: str):
    return _attribute_out(_attribute(request.auth.account, name))


@custom_attributes.delete("/{path:name}", summary="Delete a custom attribute (refused while in use)")
def attribute_delete(request: HttpRequest, name: str):
    definition = _attribute(request.auth.account, name)
    try:
        services.attribute_definition_delete(definition=definition)
    except ValidationError as error:
        raise ApiError(409, " ".join(error.messages)) from None
    return {"name": name, "deleted": True}
