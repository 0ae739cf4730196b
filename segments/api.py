"""Segments API: `/people/3/segments` with our rule JSON (see docs/rules.md), its persons, and the
count and explain routes the screens use too."""

from __future__ import annotations

from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Router

from audience import api_auth
from audience.api_errors import ApiError
from audience.api_person import PersonOut, person_find, persons_page
from audience.api_schema import (
    ApiIn,
    ApiOut,
    DateTime,
    PagingOut,
    absent,
    limit_query,
    order_query,
    page_query,
)
from segments import selectors, services
from segments.models import Segment
from segments.rules.validate import RuleErrors

router = Router(tags=["Segments"])
SORTS = {"name": "name", "createdAt": "created_at", "modifiedAt": "modified_at", "id": "id"}


class SegmentIn(ApiIn):
    name: str = Field(..., min_length=1, max_length=100)
    description: str = Field("", max_length=500)
    rule: dict[str, Any]


class RuleIn(ApiIn):
    rule: dict[str, Any]


class Identifier(ApiIn):
    type: Literal["ID", "EXTERNAL_ID", "PHONE", "EMAIL"] = "ID"
    identifier: str


class ExplainIn(ApiIn):
    rule: dict[str, Any]
    person: Identifier


class SegmentOut(ApiOut):
    id: int
    name: str
    description: str
    rule: dict[str, Any] = Field(description="the rule JSON (docs/rules.md)")
    predefined: bool
    createdAt: DateTime
    modifiedAt: DateTime


class SegmentsPage(ApiOut):
    results: list[SegmentOut]
    paging: PagingOut


class CountOut(ApiOut):
    count: int | None = Field(description="null while still counting")
    status: Literal["STILL_COUNTING"] = absent("when counting took too long")
    message: str = absent("when counting took too long")


class ExplainNode(ApiOut):
    path: str = Field(description="where the condition is in the rule, as validation errors name it")
    label: str
    holds: bool | None
    children: list[ExplainNode]


class ExplainOut(ApiOut):
    matches: bool | None
    attributes: ExplainNode | None
    events: list[ExplainNode]


class SegmentPersons(ApiOut):
    results: list[PersonOut]
    paging: PagingOut


def _rule_error(error: ValidationError) -> ApiError:
    if isinstance(error, RuleErrors):
        errors: dict[str, list[str]] = {}
        for message in error.errors:
            path, _, text = message.partition(": ")
            errors.setdefault(f"rule.{path}" if text else "rule", []).append(text or message)
        return ApiError(400, "Bad request", errors)
    detail = error.message_dict if hasattr(error, "error_dict") else {"segment": error.messages}
    text = " ".join(m for ms in detail.values() for m in ms)
    return ApiError(
        409 if any(word in text for word in ("already", "used by", "can't be", "predefined")) else 400,
        text,
        detail,
    )


def _out(segment: Segment) -> dict:
    return {
        "id": segment.pk,
        "name": segment.name,
        "description": segment.description,
        "rule": segment.rule,
        "predefined": bool(segment.predefined),
        "createdAt": segment.created_at.isoformat(),
        "modifiedAt": segment.modified_at.isoformat(),
    }


def _segment(request: HttpRequest, segment_id: int) -> Segment:
    found = Segment.objects.for_account(request.auth.account).filter(pk=segment_id).first()
    if found is None:
        raise ApiError(404, "There is no segment with this id.")
    api_auth.row_found(request)
    return found


def _paging(page: int, size: int, total: int) -> dict:
    return {"page": page, "size": size, "totalPages": (total + size - 1) // size, "totalResults": total}


@router.get("", summary="List segments (page is 0-based)", response=SegmentsPage)
def segments_list(
    request: HttpRequest,
    page: int = page_query(0, first=0),
    size: int = limit_query(20),
    sort: str = order_query("name,asc", list(SORTS), ","),
):
    field, _, direction = sort.partition(",")
    sign = "-" if direction == "desc" else ""
    queryset = Segment.objects.for_account(request.auth.account).order_by(
        f"{sign}{SORTS[field]}", f"{sign}id"
    )
    total = queryset.count()
    return {
        "results": [_out(s) for s in queryset[page * size : (page + 1) * size]],
        "paging": _paging(page, size, total),
    }


@router.post("", summary="Create a segment", response={201: SegmentOut})
def segment_create(request: HttpRequest, payload: SegmentIn):
    try:
        segment = services.segment_create(
            account=request.auth.account,
            name=payload.name,
            rule=selectors.rule_from_api(account=request.auth.account, rule=payload.rule),
            description=payload.description,
        )
    except ValidationError as error:
        raise _rule_error(error) from None
    return 201, _out(segment)


@router.post("/count", summary="Count the profiles a rule matches", response=CountOut, exclude_unset=True)
def segments_count(request: HttpRequest, payload: RuleIn):
    try:
        rule = selectors.rule_from_api(account=request.auth.account, rule=payload.rule)
        count = selectors.rule_count(account=request.auth.account, rule=rule)
    except ValidationError as error:
        raise _rule_error(error) from None
    if count is None:
        return {
            "count": None,
            "status": "STILL_COUNTING",
            "message": "Counting took too long; try again shortly.",
        }
    return {"count": count}


@router.post("/explain", summary="Which conditions of a rule hold for one person", response=ExplainOut)
def segments_explain(request: HttpRequest, payload: ExplainIn):
    profile = person_find(request.auth.account, payload.person.type, payload.person.identifier)
    try:
        rule = selectors.rule_from_api(account=request.auth.account, rule=payload.rule)
        return selectors.rule_explain(request.auth.account, rule, profile)
    except ValidationError as error:
        raise _rule_error(error) from None


@router.get("/{segment_id}", summary="Get a segment", response=SegmentOut)
def segment_get(request: HttpRequest, segment_id: int):
    return _out(_segment(request, segment_id))


@router.put(
    "/{segment_id}",
    summary="Replace a segment (refused while used by an active communication)",
    response=SegmentOut,
)
def segment_update(request: HttpRequest, segment_id: int, payload: SegmentIn):
    segment = _segment(request, segment_id)
    try:
        rule = selectors.rule_from_api(account=request.auth.account, rule=payload.rule)
        services.segment_update(
            segment=segment, name=payload.name, rule=rule, description=payload.description
        )
    except ValidationError as error:
        raise _rule_error(error) from None
    return _out(segment)


@router.delete("/{segment_id}", summary="Delete a segment", response={204: None})
def segment_delete(request: HttpRequest, segment_id: int):
    segment = _segment(request, segment_id)
    try:
        services.segments_delete(account=request.auth.account, segment_ids=[segment.pk])
    except ValidationError as error:
        raise _rule_error(error) from None
    return 204, None


@router.get(
    "/{segment_id}/persons", summary="The persons in a segment now (page is 0-based)", response=SegmentPersons
)
def segment_persons(
    request: HttpRequest, segment_id: int, page: int = page_query(0, first=0), size: int = limit_query(20)
):
    segment = _segment(request, segment_id)
    queryset = selectors.segment_profiles(segment=segment).order_by("id")
    total = selectors.rule_count(account=request.auth.account, rule=segment.rule)
    results = persons_page(queryset, limit=size, page=page + 1)
    return {"results": results, "paging": _paging(page, size, total if total is not None else 0)}
