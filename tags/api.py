"""Tags API: `/people/2/tags` (Infobip's shapes)."""

from __future__ import annotations

from typing import Literal

from django.core.exceptions import ValidationError
from django.db.models import F
from django.db.models.functions import Lower
from django.http import HttpRequest
from ninja import Field, Router

from audience.api_errors import ApiError
from audience.api_named import list_page, named_row, refused_as_conflict
from audience.api_person import BATCH_LIMIT, MessageOut, QueryOut, person_find
from audience.api_schema import ApiIn, ApiOut, ApiTime, absent, limit_query, order_query, page_query
from tags import services
from tags.models import Tag

router = Router(tags=["Tags"])
ORDER = {"name": "name", "createdAt": "created_at", "modifiedAt": "modified_at"}


class TagIn(ApiIn):
    name: str = Field(..., min_length=1, max_length=256)


class Query(ApiIn):
    type: Literal["ID", "EXTERNAL_ID", "PHONE", "EMAIL"]
    identifier: str


class PersonQuery(ApiIn):
    query: Query


class PeopleIn(ApiIn):
    people: list[PersonQuery] = Field(..., min_length=1, max_length=BATCH_LIMIT)


class TagOut(ApiOut):
    id: int
    name: str
    createdAt: ApiTime
    modifiedAt: ApiTime


class TagsPage(ApiOut):
    limit: int
    page: int
    orderBy: str
    tags: list[TagOut]
    totalCount: int = absent("with includeTotalCount=true")


class MissingOut(ApiOut):
    query: QueryOut
    status: Literal[404]
    errors: list[MessageOut]


class TagAdded(ApiOut):
    tag: str
    matched: int = Field(description="people the queries found")
    added: int = Field(description="of them, those who did not have the tag yet")
    results: list[MissingOut] = Field(description="the queries that found no one")


class TagRemoved(ApiOut):
    tag: str
    matched: int = Field(description="people the queries found")
    removed: int = Field(description="of them, those who had the tag")
    results: list[MissingOut] = Field(description="the queries that found no one")


class TagDeleted(ApiOut):
    name: str
    deleted: bool


def _out(tag: Tag) -> dict:
    return {
        "id": tag.pk,
        "name": tag.name,
        "createdAt": tag.created_at.strftime("%Y-%m-%dT%H:%M:%S"),
        "modifiedAt": tag.modified_at.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def _tag(request: HttpRequest, name: str) -> Tag:
    return named_row(request, Tag, name, missing=f"There is no tag named {name!r}.")


@router.get("", summary="List tags", response=TagsPage, exclude_unset=True)
def tags_list(
    request: HttpRequest,
    limit: int = limit_query(20),
    page: int = page_query(1),
    orderBy: str = order_query("name:asc", list(ORDER), ":"),
    includeTotalCount: bool = False,
):
    field, _, direction = orderBy.partition(":")
    # Names sort regardless of case, as they are unique regardless of case.
    key = Lower("name") if field == "name" else F(ORDER[field])
    descending = direction == "desc"
    queryset = Tag.objects.for_account(request.auth.account).order_by(
        key.desc() if descending else key.asc(), "-id" if descending else "id"
    )
    return list_page(
        queryset, key="tags", out=_out, limit=limit, page=page, order_by=orderBy, total=includeTotalCount
    )


@router.post("", summary="Create a tag", response=TagOut)
def tag_create(request: HttpRequest, payload: TagIn):
    try:
        tag = services.tag_create(account=request.auth.account, name=payload.name)
    except ValidationError as error:
        status = 409 if "already exists" in " ".join(error.messages) else 400
        raise ApiError(
            status, "Duplicate" if status == 409 else "Bad request", {"name": error.messages}
        ) from None
    return _out(tag)


def _people(request: HttpRequest, payload: PeopleIn) -> tuple[list[int], list[dict]]:
    if not payload.people:
        raise ApiError(400, "Bad request", {"people": ["must hold at least one item"]})
    if len(payload.people) > BATCH_LIMIT:
        raise ApiError(400, "Bad request", {"people": [f"must hold at most {BATCH_LIMIT} items"]})
    ids, missing = [], []
    for item in payload.people:
        try:
            ids.append(person_find(request.auth.account, item.query.type, item.query.identifier).pk)
        except ApiError:
            missing.append(
                {
                    "query": item.query.model_dump(),
                    "status": 404,
                    "errors": [{"message": "There is no person matching the query"}],
                }
            )
    return ids, missing


@router.patch("/{path:name}/persons", summary="Add a tag to people (at most 1000)", response=TagAdded)
def tag_add_people(request: HttpRequest, name: str, payload: PeopleIn):
    tag = _tag(request, name)
    ids, missing = _people(request, payload)
    added = services.tags_add(account=request.auth.account, tags=[tag], profile_ids=ids)
    return {"tag": tag.name, "matched": len(ids), "added": added, "results": missing}


@router.delete("/{path:name}/persons", summary="Remove a tag from people (at most 1000)", response=TagRemoved)
def tag_remove_people(request: HttpRequest, name: str, payload: PeopleIn):
    tag = _tag(request, name)
    ids, missing = _people(request, payload)
    removed = services.tags_remove(account=request.auth.account, tags=[tag], profile_ids=ids)
    return {"tag": tag.name, "matched": len(ids), "removed": removed, "results": missing}


# After the /persons routes: a name may hold `/` (the path converter takes it), and a path ending in
# /persons is the tag's people.
@router.get("/{path:name}", summary="Get a tag", response=TagOut)
def tag_get(request: HttpRequest, name: str):
    return _out(_tag(request, name))


@router.delete("/{path:name}", summary="Delete a tag (refused while in use)", response=TagDeleted)
def tag_delete(request: HttpRequest, name: str):
    tag = _tag(request, name)
    with refused_as_conflict():
        services.tags_delete(account=request.auth.account, tags=[tag])
    return {"name": tag.name, "deleted": True}
