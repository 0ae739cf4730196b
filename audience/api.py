"""The REST API, under /api/ (OpenAPI at /api/openapi.json, browsable docs at /api/docs).

Paths, bodies and error shapes follow Infobip's People API so a script written for it works here
after changing the base URL and the key. Errors use Infobip's v2 shape:
`{"requestError": {"serviceException": {"messageId", "text", "validationErrors"?}}}`.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from audience import api_auth, api_schema
from audience.api_errors import STATUS_IDS, ApiError, error_body

logger = logging.getLogger(__name__)


class AudienceAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        return api_schema.document_errors(schema, read_only_posts=api_auth.READ_ONLY_POSTS)


api = AudienceAPI(
    title="Audience API",
    version="1",
    description="Profiles, tags, segments, events and Do Not Contact. Authenticate with "
    "`Authorization: App <key>`; keys are created by account admins.",
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=api_auth.AppKeyAuth(),
    urls_namespace="api",
)


def _respond(request: HttpRequest, status: int, text: str, errors: dict | None = None) -> HttpResponse:
    return api.create_response(
        request, error_body(STATUS_IDS.get(status, "GENERAL_ERROR"), text, errors), status=status
    )


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return _respond(request, exc.status, exc.text, exc.errors)


@api.exception_handler(AuthenticationError)
def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _respond(request, 401, "Invalid login details: send `Authorization: App <key>`.")


@api.exception_handler(NinjaValidationError)
def _invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    for item in exc.errors:
        loc = [str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path", "payload")]
        errors.setdefault(".".join(loc) or "request", []).append(item.get("msg", "invalid"))
    return _respond(request, 400, "Bad request", errors)


@api.exception_handler(ValidationError)
def _django_invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"request": exc.messages}
    return _respond(request, 400, "Bad request", errors)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _respond(request, 404, str(exc) or "Not found.")


@api.exception_handler(Exception)
def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API error on %s %s", request.method, request.path)
    return _respond(request, 500, "Something went wrong on our side; it has been logged.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _respond(request, exc.status_code, str(exc))


def _mount() -> None:
    from audience import api_attributes, api_events, api_persons
    from dnc import api as dnc_api
    from segments import api as segments_api
    from tags import api as tags_api

    api.add_router("/people/2/persons", api_persons.persons)
    api.add_router("/people/2/customAttributes", api_attributes.custom_attributes)
    api.add_router("/people/3/events", api_events.events)
    api.add_router("/peopleevents/2/definitions", api_events.definitions)
    api.add_router("/people/2/tags", tags_api.router)
    api.add_router("/people/3/segments", segments_api.router)
    api.add_router("/platform/1/blocklists", dnc_api.router)


_mount()
