"""Rendering for htmx: a full page normally, only the named partial for an htmx request."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def wants_partial(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_page(
    request: HttpRequest, template: str, context: dict, *, partial: str | None = None, status: int = 200
) -> HttpResponse:
    """Render `template`, or `template#partial` for a plain htmx request; Vary on HX-Request."""
    name = f"{template}#{partial}" if partial and wants_partial(request) else template
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def invalid_status(request: HttpRequest) -> int:
    """The status of a form answered again with its errors. htmx 2 swaps no 4xx answer, so an
    htmx request gets 200 (else the person sees nothing happen); a full page keeps 400."""
    return 200 if wants_partial(request) else 400
