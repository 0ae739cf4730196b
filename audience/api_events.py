"""Events: `POST /people/3/events` (batches, idempotent on eventId) and event definitions at
`/peopleevents/2/definitions`. Unlike Infobip, events of any age are accepted (back-filling)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from ninja import Field, Query, Router

from audience import counting, services
from audience.api_errors import ApiError
from audience.api_named import named_row, refused_as_conflict
from audience.api_person import person_find
from audience.api_schema import ApiIn, ApiOut, limit_query
from audience.attributes import attribute_value_parse
from audience.contacts import normalize_email, normalize_phone
from audience.models import AttributeType, Event, EventDefinition

events = Router(tags=["Events"])
definitions = Router(tags=["Event definitions"])

EVENT_BATCH_LIMIT = 5000
EVENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
FIELD_TYPES = {
    "String": AttributeType.TEXT,
    "Boolean": AttributeType.BOOLEAN,
    "DateTime": AttributeType.DATETIME,
    "Date": AttributeType.DATE,
    "Numeric": AttributeType.INTEGER,
    "Decimal": AttributeType.DECIMAL,
}
FIELD_TYPE_NAMES = {v: k for k, v in FIELD_TYPES.items()}


class Identifier(ApiIn):
    id: str
    type: Literal["ID", "EXTERNAL_ID", "PHONE", "EMAIL"] = "ID"


class EventIn(ApiIn):
    eventId: str | None = None
    definitionId: str
    occurredTime: str | None = None
    identifier: Identifier
    properties: dict[str, Any] = Field(default_factory=dict)


FieldType = Literal["String", "Boolean", "DateTime", "Date", "Numeric", "Decimal"]


class FieldIn(ApiIn):
    name: str = Field(..., pattern=services.EVENT_PROPERTY_NAME)
    type: FieldType


class DefinitionIn(ApiIn):
    definitionId: str = Field(..., min_length=1, max_length=100)
    title: str | None = Field(None, max_length=100)
    description: str = Field("", max_length=2000)
    fields: list[FieldIn] = Field(default_factory=list, max_length=120)


class DefinitionUpdate(ApiIn):
    description: str | None = Field(None, max_length=2000)
    fields: list[FieldIn] = Field(default_factory=list, max_length=120)


class EventsAccepted(ApiOut):
    accepted: int = Field(description="events stored")
    duplicates: int = Field(description="events skipped: their eventId was sent before")


class ProblemDetail(ApiOut):
    property: str
    message: str


class ProblemItem(ApiOut):
    index: int
    code: int = Field(
        description="400502 empty batch, 400503 too many, 400504 invalid, 400505 no such person"
    )
    message: str
    details: list[ProblemDetail]


class EventsProblem(ApiOut):
    """Infobip's problem details for a refused batch (RFC 9110); nothing of the batch is stored."""

    type: str
    title: str
    status: int
    traceId: str
    errors: list[ProblemItem]


class FieldOut(ApiOut):
    name: str
    type: FieldType


class DefinitionOut(ApiOut):
    definitionId: str
    title: str
    description: str
    isInternalDefinition: bool
    category: Literal["external", "product"]
    fields: list[FieldOut]


class DefinitionDeleted(ApiOut):
    definitionId: str
    deleted: bool


def _problem(errors: list[dict], status: int = 400) -> tuple[int, dict]:
    return status, {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": status,
        "traceId": uuid.uuid4().hex,
        "errors": errors,
    }


def _when(raw: str | None) -> dt.datetime:
    if not raw:
        return timezone.now()
    parsed = parse_datetime(raw.replace("Z", "+00:00"))
    if parsed is None:
        raise ValueError("occurredTime is not an ISO 8601 date-time")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, dt.UTC)
    # Future times are set to now, as Infobip does.
    return min(parsed, timezone.now())


def _validate(
    account, index: int, item: EventIn, known: dict[str, EventDefinition]
) -> tuple[Event | None, dict | None]:
    details = []
    definition = known.get(item.definitionId.lower())
    if definition is None:
        return None, {
            "index": index,
            "code": 400504,
            "message": f"Unknown event definition {item.definitionId!r}.",
            "details": [{"property": f"[{index}].definitionId", "message": "not defined"}],
        }
    if item.eventId is not None and not EVENT_ID.match(item.eventId):
        details.append({"property": f"[{index}].eventId", "message": "1-36 characters of A-Z a-z 0-9 _ -"})
    properties: dict[str, Any] = {}
    types = {name.lower(): (name, type_) for name, type_ in definition.properties.items()}
    for name, value in item.properties.items():
        if name.lower() not in types:
            details.append(
                {"property": f"[{index}].properties.{name}", "message": "not a property of this event"}
            )
            continue
        real, type_ = types[name.lower()]
        try:
            properties[real] = attribute_value_parse(type_, value)
        except ValidationError as error:
            details.append({"property": f"[{index}].properties.{name}", "message": error.messages[0]})
    try:
        occurred = _when(item.occurredTime)
    except ValueError as error:
        details.append({"property": f"[{index}].occurredTime", "message": str(error)})
        occurred = None
    if details:
        return None, {"index": index, "code": 400504, "message": "The event is invalid.", "details": details}
    try:
        profile = person_find(account, item.identifier.type, item.identifier.id)
    except ApiError:
        if item.identifier.type == "ID":
            return None, {
                "index": index,
                "code": 400505,
                "message": "There is no person matching the identifier.",
                "details": [{"property": f"[{index}].identifier", "message": "not found"}],
            }
        # Created below, as Infobip does for PHONE, EMAIL and EXTERNAL_ID: check now that it can be,
        # so one bad identifier refuses the batch before anything is written.
        problem = _identifier_problem(item.identifier)
        if problem:
            return None, {
                "index": index,
                "code": 400504,
                "message": "The identifier can't make a new person.",
                "details": [{"property": f"[{index}].identifier.id", "message": problem}],
            }
        profile = None
    event = Event(
        account=account,
        profile=profile,
        name=definition.name,
        occurred_at=occurred,
        properties=properties,
        event_id=item.eventId or "",
    )
    event._identifier = item.identifier  # for creating the person
    return event, None


def _identifier_problem(identifier: Identifier) -> str | None:
    try:
        if identifier.type == "PHONE":
            normalize_phone(identifier.id)
        elif identifier.type == "EMAIL":
            normalize_email(identifier.id)
        elif not identifier.id.strip() or len(identifier.id) > 256:
            return "an external id is 1 to 256 characters"
    except ValidationError as error:
        return error.messages[0]
    return None


def _person_for(account, identifier: Identifier):
    fields = {"type": "customer"}
    if identifier.type == "EXTERNAL_ID":
        fields["external_id"] = identifier.id
        return services.profile_create(account=account, fields=fields)
    if identifier.type == "PHONE":
        return services.profile_create(account=account, fields=fields, phones=[identifier.id])
    return services.profile_create(account=account, fields=fields, emails=[identifier.id])


@events.post(
    "", summary="Send a batch of events (at most 5000)", response={202: EventsAccepted, 400: EventsProblem}
)
def events_batch(request: HttpRequest, payload: list[EventIn]):
    account = request.auth.account
    if not payload:
        return _problem([{"index": 0, "code": 400502, "message": "The batch is empty.", "details": []}])
    if len(payload) > EVENT_BATCH_LIMIT:
        return _problem(
            [
                {
                    "index": 0,
                    "code": 400503,
                    "message": f"At most {EVENT_BATCH_LIMIT} events a batch.",
                    "details": [],
                }
            ]
        )
    known = {d.name.lower(): d for d in EventDefinition.objects.for_account(account)}
    rows, errors = [], []
    for index, item in enumerate(payload):
        event, error = _validate(account, index, item, known)
        if error:
            errors.append(error)
        else:
            rows.append(event)
    if errors:
        # The whole batch is refused, as Infobip does, so a fixed batch can simply be re-sent.
        return _problem(errors)
    with transaction.atomic():
        created_people: dict[tuple[str, str], Any] = {}
        for event in rows:
            if event.profile_id is None:
                key = (event._identifier.type, event._identifier.id)
                if key not in created_people:
                    try:
                        created_people[key] = person_find(account, *key)
                    except ApiError:
                        try:
                            created_people[key] = _person_for(account, event._identifier)
                        except ValidationError as error:
                            raise ApiError(400, "Bad request", {"identifier": error.messages}) from None
                event.profile = created_people[key]
        ids = [e.event_id for e in rows if e.event_id]
        seen = set(Event.objects.filter(account=account, event_id__in=ids).values_list("event_id", flat=True))
        fresh, duplicates = [], 0
        for event in rows:
            if event.event_id and event.event_id in seen:
                duplicates += 1
                continue
            if event.event_id:
                seen.add(event.event_id)
            fresh.append(event)
        Event.objects.bulk_create(fresh, batch_size=1000, ignore_conflicts=True)
        counting.data_changed(account_ids=[account.pk])
    return 202, {"accepted": len(fresh), "duplicates": duplicates}


def _definition_out(definition: EventDefinition) -> dict:
    return {
        "definitionId": definition.name,
        "title": definition.name,
        "description": definition.description,
        "isInternalDefinition": definition.is_predefined,
        "category": "external" if not definition.is_predefined else "product",
        "fields": [
            {"name": n, "type": FIELD_TYPE_NAMES.get(t, "String")} for n, t in definition.properties.items()
        ],
    }


def _definition(request: HttpRequest, definition_id: str) -> EventDefinition:
    return named_row(
        request, EventDefinition, definition_id, missing=f"There is no event definition {definition_id!r}."
    )


@definitions.get("", summary="List event definitions", response=list[DefinitionOut])
def definitions_list(
    request: HttpRequest,
    offset: int = Query(0, ge=0, le=1_000_000),
    limit: int = limit_query(100),
    searchText: str = Query("", max_length=100),
):
    queryset = EventDefinition.objects.for_account(request.auth.account).order_by("name")
    if searchText:
        queryset = queryset.filter(name__icontains=searchText)
    return [_definition_out(d) for d in queryset[offset : offset + limit]]


@definitions.post("", summary="Create an event definition", response={201: DefinitionOut})
def definition_create(request: HttpRequest, payload: DefinitionIn):
    account = request.auth.account
    if EventDefinition.objects.for_account(account).filter(name__iexact=payload.definitionId).exists():
        raise ApiError(409, f"The event definition {payload.definitionId!r} exists already.")
    properties = {f.name: FIELD_TYPES[f.type] for f in payload.fields}
    definition = services.event_definition_create(
        account=account, name=payload.definitionId, description=payload.description, properties=properties
    )
    return 201, _definition_out(definition)


@definitions.get("/{path:definition_id}", summary="Get an event definition", response=DefinitionOut)
def definition_get(request: HttpRequest, definition_id: str):
    return _definition_out(_definition(request, definition_id))


@definitions.post(
    "/{path:definition_id}", summary="Update an event definition (add fields only)", response=DefinitionOut
)
def definition_update(request: HttpRequest, definition_id: str, payload: DefinitionUpdate):
    definition = _definition(request, definition_id)
    services.event_definition_update(
        definition=definition,
        description=payload.description if payload.description is not None else definition.description,
        new_properties={f.name: FIELD_TYPES[f.type] for f in payload.fields},
    )
    return _definition_out(definition)


@definitions.delete("/{path:definition_id}", summary="Delete an event definition", response=DefinitionDeleted)
def definition_delete(request: HttpRequest, definition_id: str):
    definition = _definition(request, definition_id)
    with refused_as_conflict():
        services.event_definition_delete(definition=definition)
    return {"definitionId": definition_id, "deleted": True}
