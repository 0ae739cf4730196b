from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audience import access


class CurrentAccountMiddleware:
    """Sets `request.membership` and `request.account` for a signed-in user (None otherwise)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = access.current_membership(request)
        request.account = request.membership.account if request.membership else None
        return self.get_response(request)
