from __future__ import annotations

import contextlib
import datetime as dt
import json
import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils import timezone

from audience import access, text


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


class RefuseNulMiddleware:
    """Text that can't be stored (`audience.text`: a NUL character, an unpaired surrogate) in a
    query string, form field or JSON body is refused with a 400 naming the field, before any view
    turns it into a 500. Uploaded files are not looked at (an .xlsx is binary; the import pipeline
    checks each cell and reports its row and column)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        found = self._found(request)
        if not found:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            from audience.api_errors import error_body

            errors: dict[str, list[str]] = {}
            for path, reason in found[:20]:
                errors.setdefault(path, []).append(reason)
            return JsonResponse(error_body("BAD_REQUEST", "Bad request", errors), status=400)
        path, reason = found[0]
        return HttpResponseBadRequest(f"The field {path} {reason}.", content_type="text/plain")

    @staticmethod
    def _pairs(data) -> list[tuple[str, str]]:
        found = []
        for key, values in data.lists():
            reason = text.text_unstorable(key) or next(
                (r for v in values if (r := text.text_unstorable(v))), None
            )
            if reason:
                found.append((key, reason))
        return found

    @classmethod
    def _found(cls, request: HttpRequest) -> list[tuple[str, str]]:
        found = cls._pairs(request.GET)
        if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
            return found
        if request.content_type == "application/json":
            body = request.body
            # Only an escape (`\u0000`, `\ud800`) or a raw NUL can decode to such a character.
            if b"\\u" in body or b"\x00" in body:
                with contextlib.suppress(ValueError):  # not JSON: the view says so
                    found += text.text_unstorable_paths(json.loads(body))
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            found += cls._pairs(request.POST)
        return found


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
