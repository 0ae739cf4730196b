"""What the API routes of rows named by their name (tags, custom attributes) share: the row the
URL names, a page of the list, and a delete refused while the row is in use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from audience import api_auth
from audience.api_errors import ApiError

Row = TypeVar("Row", bound=Model)


def named_row(request: HttpRequest, model: type[Row], name: str, *, missing: str) -> Row:
    """The row of `model` in the key's account named `name` regardless of case (names are unique
    regardless of case), or 404 with `missing`; a read-only key asking to change it gets 403."""
    found = model.objects.for_account(request.auth.account).filter(name__iexact=name).first()  # type: ignore[attr-defined]
    if found is None:
        raise ApiError(404, missing)
    api_auth.row_found(request)
    return found


def list_page(
    queryset: QuerySet,
    *,
    key: str,
    out: Callable[[Any], dict],
    limit: int,
    page: int,
    order_by: str,
    total: bool,
) -> dict:
    """Infobip's v2 list body: `limit`, `page` (1 for the first), `orderBy`, the page's rows under
    `key`, and `totalCount` when asked for (includeTotalCount=true)."""
    body = {
        "limit": limit,
        "page": page,
        "orderBy": order_by,
        key: [out(row) for row in queryset[(page - 1) * limit : page * limit]],
    }
    if total:
        body["totalCount"] = queryset.count()
    return body


@contextmanager
def refused_as_conflict() -> Iterator[None]:
    """A service's refusal (a ValidationError: the row is still in use) answers 409 with its
    reasons."""
    try:
        yield
    except ValidationError as error:
        raise ApiError(409, " ".join(error.messages)) from None
