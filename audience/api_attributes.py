"""Custom attributes: `/people/2/customAttributes` (Infobip's shapes)."""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router

from audience import services
from audience.api_errors import ApiError
from audience.api_named import list_page, named_row, refused_as_conflict
from audience.api_person import iso_time
from audience.api_schema import ApiIn, ApiOut, ApiTime, absent, limit_query, page_query
from audience.models import AttributeDefinition, AttributeType

custom_attributes = Router(tags=["Custom attributes"])

LIST_LIMIT = 1000
DATA_TYPES = {
    "STRING": AttributeType.TEXT,
    "INTEGER": AttributeType.INTEGER,
    "DECIMAL": AttributeType.DECIMAL,
    "BOOLEAN": AttributeType.BOOLEAN,
    "DATE": AttributeType.DATE,
    "DATE_TIME": AttributeType.DATETIME,
}
DATA_TYPE_NAMES = {v: k for k, v in DATA_TYPES.items()}
DataType = Literal["STRING", "INTEGER", "DECIMAL", "BOOLEAN", "DATE", "DATE_TIME"]


class CustomAttributeIn(ApiIn):
    name: str = Field(..., max_length=256)
    dataType: DataType


class AttributeOut(ApiOut):
    name: str
    dataType: DataType
    createdAt: ApiTime
    modifiedAt: ApiTime


class AttributesPage(ApiOut):
    limit: int
    page: int
    orderBy: str
    customAttributes: list[AttributeOut]
    totalCount: int = absent("with includeTotalCount=true")


class AttributeDeleted(ApiOut):
    name: str
    deleted: bool


def _attribute_out(definition: AttributeDefinition) -> dict:
    return {
        "name": definition.name,
        "dataType": DATA_TYPE_NAMES[definition.type],
        "createdAt": iso_time(definition.created_at),
        "modifiedAt": iso_time(definition.created_at),
    }


def _attribute(request: HttpRequest, name: str) -> AttributeDefinition:
    return named_row(
        request, AttributeDefinition, name, missing=f"There is no custom attribute named {name!r}."
    )


@custom_attributes.get("", summary="List custom attributes", response=AttributesPage, exclude_unset=True)
def attributes_list(
    request: HttpRequest,
    limit: int = limit_query(100, LIST_LIMIT),
    page: int = page_query(1),
    includeTotalCount: bool = False,
):
    if not 1 <= limit <= LIST_LIMIT or page < 1:
        raise ApiError(400, "Bad request", {"limit": [f"limit is 1 to {LIST_LIMIT}, page 1 or more"]})
    return list_page(
        AttributeDefinition.objects.for_account(request.auth.account).order_by("name"),
        key="customAttributes",
        out=_attribute_out,
        limit=limit,
        page=page,
        order_by="name:asc",
        total=includeTotalCount,
    )


@custom_attributes.post("", summary="Create a custom attribute", response=AttributeOut)
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


@custom_attributes.get("/{path:name}", summary="Get a custom attribute", response=AttributeOut)
def attribute_get(request: HttpRequest, name: str):
    return _attribute_out(_attribute(request, name))


@custom_attributes.delete(
    "/{path:name}", summary="Delete a custom attribute (refused while in use)", response=AttributeDeleted
)
def attribute_delete(request: HttpRequest, name: str):
    definition = _attribute(request, name)
    with refused_as_conflict():
        services.attribute_definition_delete(definition=definition)
    return {"name": name, "deleted": True}
