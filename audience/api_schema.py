"""What every API operation shares in its OpenAPI document: the error body and the statuses each
kind of operation can answer, so the document is the truth a client (and schemathesis) reads.

Answers are typed too: every route declares its success body as an `ApiOut` model (the real
field names, types, enums, what may be null and what is always there), which django-ninja puts in
the document and checks each answer against (an answer that strays from it is a 500, caught by
the suite). Keys a route sometimes leaves out (`totalCount`, `campaign`, `reason`) are `absent()`
fields: not required, and left out of the answer when the route does not set them
(`exclude_unset`).

Input bodies derive from `ApiIn`, a plain pydantic model: django-ninja's `Schema` also reads
attributes off arbitrary objects (it is built to serialise ORM rows), so a body of `[]`, `true`
or `"hello"` passed as an empty object. `ApiIn` accepts a JSON object only.
"""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Query
from pydantic import BaseModel, ConfigDict, Field

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "description": "Infobip's v2 error shape.",
    "required": ["requestError"],
    "properties": {
        "requestError": {
            "type": "object",
            "required": ["serviceException"],
            "properties": {
                "serviceException": {
                    "type": "object",
                    "required": ["messageId", "text"],
                    "properties": {
                        "messageId": {
                            "type": "string",
                            "enum": [
                                "BAD_REQUEST",
                                "UNAUTHORIZED",
                                "FORBIDDEN",
                                "NOT_FOUND",
                                "METHOD_NOT_ALLOWED",
                                "CONFLICT",
                                "PAYLOAD_TOO_LARGE",
                                "TOO_MANY_REQUESTS",
                                "GENERAL_ERROR",
                            ],
                        },
                        "text": {"type": "string"},
                        "validationErrors": {
                            "type": "object",
                            "description": "Field path → messages.",
                            "additionalProperties": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                }
            },
        }
    },
}

DESCRIPTIONS = {
    "400": "The request is invalid: `validationErrors` names each field and what is wrong.",
    "401": "No key, or an unknown or revoked key.",
    "403": "The key is read-only and the operation changes data.",
    "404": "No such row in the key's account.",
    "409": "It conflicts with what exists (a duplicate, or a row still in use).",
    "429": "Too many requests for this key this second.",
    "500": "An unexpected error; the details are in the server's log.",
}


class ApiIn(BaseModel):
    """A JSON object body (see the module's docstring); a field it does not know is refused by
    name rather than silently dropped."""

    model_config = ConfigDict(extra="forbid")


class ApiOut(BaseModel):
    """A success body: exactly these keys (the document says `additionalProperties: false`)."""

    model_config = ConfigDict(extra="forbid")


def _no_default(schema: dict) -> None:
    schema.pop("default", None)


def absent(description: str = "") -> Any:
    """A key the answer holds only sometimes: not required, never null when present."""
    return Field(default=None, description=description or None, json_schema_extra=_no_default)


# Infobip's v2 times: `yyyy-MM-dd'T'HH:mm:ss`, no zone (UTC).
ApiTime = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")]
# ISO 8601 with the zone, as segments and Do Not Contact entries give them.
DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class PagingOut(ApiOut):
    page: int = Field(description="0 for the first page")
    size: int
    totalPages: int
    totalResults: int


def document_errors(schema: dict, *, read_only_posts: tuple[str, ...]) -> dict:
    """Adds the error responses each operation can give to an OpenAPI document (in place)."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            statuses = {"400", "401", "429", "500"}
            writes = method != "get" and not (method == "post" and path.rstrip("/").endswith(read_only_posts))
            if writes:
                statuses |= {"403", "409"}
            params = operation.get("parameters", [])
            if (
                "{" in path
                or any(p.get("name") in ("identifier",) for p in params)
                or path.endswith(("/explain",))
            ):
                statuses.add("404")
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses):
                own = responses.get(status) or responses.get(int(status))
                if own is None:
                    responses[status] = {"description": DESCRIPTIONS[status], **ref}
                elif "content" in own:
                    # A route's own body for this status (the events' problem details); the
                    # shared error shape can answer it too (an invalid body, say).
                    body = own["content"]["application/json"]
                    body["schema"] = {"anyOf": [body["schema"], ref["content"]["application/json"]["schema"]]}
    _forbid_nul_in_requests(schema)
    return schema


NO_NUL = "^[^\\u0000]*$"


def _forbid_nul_in_requests(schema: dict) -> None:
    """NUL is refused in what a client sends: parameters, request bodies and the components they
    use. What the API answers is described as it is."""
    components = schema.get("components", {}).get("schemas", {})
    seen: set[str] = set()

    def refs(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                refs(item)
        elif isinstance(node, dict):
            ref = node.get("$ref", "")
            name = ref.rpartition("/")[2]
            if ref.startswith("#/components/schemas/") and name not in seen:
                seen.add(name)
                refs(components.get(name))
            for value in node.values():
                refs(value)

    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for part in (operation.get("parameters"), operation.get("requestBody")):
                refs(part)
                _forbid_nul(part)
    for name in seen:
        _forbid_nul(components.get(name))


def _forbid_nul(node: Any) -> None:
    """No text can hold NUL (PostgreSQL can't store it; RefuseNulMiddleware refuses it): every
    free-form string, and every free-form object's keys, say so in the document."""
    if isinstance(node, list):
        for item in node:
            _forbid_nul(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and not ({"pattern", "enum", "format", "const"} & node.keys()):
        node["pattern"] = NO_NUL
    if node.get("type") == "object" and "additionalProperties" in node and "propertyNames" not in node:
        node["propertyNames"] = {"pattern": NO_NUL}
    for value in node.values():
        _forbid_nul(value)


# Query parameters with their limits in the document, so a client (and schemathesis) knows them.
MAX_PAGE = 1_000_000


def limit_query(default: int, maximum: int = 1000) -> Any:
    return Query(default, ge=1, le=maximum, description=f"1 to {maximum}")


def page_query(default: int, first: int = 1) -> Any:
    return Query(default, ge=first, le=MAX_PAGE, description=f"{first} for the first page")


def order_query(default: str, fields: list[str], separator: str) -> Any:
    pattern = f"^({'|'.join(fields)})({separator}(asc|desc))?$"
    return Query(
        default,
        pattern=pattern,
        description=f"a field of {', '.join(fields)}, then {separator}asc or {separator}desc",
    )
