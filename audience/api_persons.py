"""Persons: `/people/2/persons` (Infobip's shapes): one person by identifier, the filtered list,
and the batches. The person's shapes are in `api_person`, the filter language in
`api_person_filter`."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Router

from audience import services
from audience.api_errors import ApiError
from audience.api_person import (
    BATCH_LIMIT,
    FIELDS,
    IdentifierType,
    MessageOut,
    PersonIn,
    PersonOut,
    QueryOut,
    person_find,
    person_named,
    person_out,
    person_write,
    persons_page,
)
from audience.api_person_filter import person_filter_queryset
from audience.api_schema import ApiIn, ApiOut, absent, limit_query, order_query, page_query
from audience.models import Profile

persons = Router(tags=["Persons"])

LIST_LIMIT = 1000
ORDERABLE = {"firstName", "lastName", "createdAt", "modifiedAt", "id"}


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


class PersonsPage(ApiOut):
    limit: int
    page: int
    orderBy: str
    persons: list[PersonOut]
    totalCount: int = absent("with includeTotalCount=true")


class PersonDeleted(ApiOut):
    id: int | None
    deleted: bool


class BatchItemOut(ApiOut):
    """One item of a batch, by its `index` (create) or its `query` (update, delete)."""

    index: int = absent("create: the item's place in `people`")
    query: QueryOut = absent("update and delete: the item's query")
    status: int = Field(description="200, or the status the item alone would have had")
    id: int = absent("the person's id, when the item succeeded (create, update)")
    errors: list[MessageOut] = absent("why the item failed")


class BatchOut(ApiOut):
    results: list[BatchItemOut]


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


@persons.get(
    "",
    summary="Get a single person or a list of people",
    response={200: PersonOut | PersonsPage},
    exclude_unset=True,
)
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
    if filter:
        queryset = person_filter_queryset(filter, account=account)
    else:
        queryset = Profile.objects.for_account(account)
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


@persons.post("", summary="Create a new person", response=PersonOut)
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


@persons.put("", summary="Replace a person (missing attributes are emptied)", response=PersonOut)
def person_replace(request: HttpRequest, identifier: str, type: IdentifierType, payload: PersonIn):
    profile = person_named(request, type, identifier)
    try:
        person_write(request.auth.account, payload, profile=profile, replace=True)
    except ValidationError as error:
        raise _conflict_or_invalid(error) from None
    profile.refresh_from_db()
    return person_out(profile)


@persons.patch("", summary="Update a person (tags, phones and emails are appended)", response=PersonOut)
def person_patch(request: HttpRequest, identifier: str, type: IdentifierType, payload: PersonIn):
    profile = person_named(request, type, identifier)
    try:
        person_write(request.auth.account, payload, profile=profile)
    except ValidationError as error:
        raise _conflict_or_invalid(error) from None
    profile.refresh_from_db()
    return person_out(profile)


@persons.delete("", summary="Delete a person", response=PersonDeleted)
def person_delete(request: HttpRequest, identifier: str, type: IdentifierType):
    profile = person_named(request, type, identifier)
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


@persons.post(
    "/batch",
    summary="Create people in a batch (at most 1000)",
    response={200: BatchOut, 207: BatchOut},
    exclude_unset=True,
)
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
    response={200: BatchOut, 207: BatchOut},
    exclude_unset=True,
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


@persons.delete(
    "/batch",
    summary="Delete people in a batch (at most 1000)",
    response={200: BatchOut, 207: BatchOut},
    exclude_unset=True,
)
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
