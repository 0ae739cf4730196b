from __future__ import annotations

import contextlib
import datetime as dt
import json
import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils import timezone

from audience import access


class CurrentAccountMiddleware:
    """Sets `request.membership` and `request.account` for a signed-in user (None otherwise), and
    makes the account's time zone the current one while the request is answered, so dates on the
    screens (`day`, `when`, custom date-time attributes) are shown in it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = access.current_membership(request)
        request.account = request.membership.account if request.membership else None
        if request.account is None:
            return self.get_response(request)
        try:
            zone = request.account.tz
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):  # a name this system no longer knows
            zone = dt.UTC
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


NUL_REFUSED = "contains a NUL character (\\u0000), which can't be stored: remove it"


def _nul_paths(value: object, path: str = "") -> list[str]:
    """Where NUL characters hide in decoded JSON: the dotted path of each field that has one."""
    if isinstance(value, str):
        return [path or "request"] if "\x00" in value else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            found += [here] if "\x00" in str(key) else _nul_paths(item, here)
        return found
    if isinstance(value, list):
        return [hit for index, item in enumerate(value) for hit in _nul_paths(item, f"{path}[{index}]")]
    return []


class RefuseNulMiddleware:
    """PostgreSQL text can't hold a NUL character: a query string, form field or JSON body that
    carries one is refused with a 400 naming the field, before any view turns it into a 500.
    Uploaded files are not looked at (an .xlsx is binary; the import pipeline reads those)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        paths = self._paths(request)
        if not paths:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            from audience.api_errors import error_body

            body = error_body("BAD_REQUEST", "Bad request", {path: [NUL_REFUSED] for path in paths[:20]})
            return JsonResponse(body, status=400)
        return HttpResponseBadRequest(f"The field {paths[0]} {NUL_REFUSED}.", content_type="text/plain")

    @staticmethod
    def _paths(request: HttpRequest) -> list[str]:
        paths = [
            key for key, values in request.GET.lists() if "\x00" in key or any("\x00" in v for v in values)
        ]
        if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
            return paths
        if request.content_type == "application/json":
            body = request.body
            if b"\\u0000" in body or b"\x00" in body:
                with contextlib.suppress(ValueError):  # not JSON: the view says so
                    paths += _nul_paths(json.loads(body))
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            paths += [
                key
                for key, values in request.POST.lists()
                if "\x00" in key or any("\x00" in v for v in values)
            ]
        return paths


class ApiErrorShapeMiddleware:
    """Every answer under /api/ is JSON: an error that did not come from an API route (an unknown
    path, a method the path does not take, a server error) gets the API's error shape too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            not request.path.startswith("/api/")
            or response.status_code < 400
            or response.get("Content-Type", "").startswith("application/json")
            or request.path.startswith("/api/docs")
        ):
            return response
        from audience.api_errors import STATUS_IDS, error_body

        status = response.status_code
        text = {
            404: "No such API path: see /api/openapi.json for the paths there are.",
            405: f"{request.method} is not allowed here; allowed: {response.get('Allow', '')}.",
        }.get(
            status,
            "Something went wrong on our side; it has been logged." if status >= 500 else "Bad request",
        )
        shaped = JsonResponse(error_body(STATUS_IDS.get(status, "GENERAL_ERROR"), text), status=status)
        if response.has_header("Allow"):
            shaped["Allow"] = response["Allow"]
        return shaped
