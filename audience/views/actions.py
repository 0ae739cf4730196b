"""The two moves every settings screen makes (Configuration › attributes, events, account and
members, senders): save a form through a service, and run a service that may refuse.

A service refuses with a ValidationError whose words are shown as they are: next to the form's
field it names, or as the page's error message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from audience.forms import form_apply_errors

T = TypeVar("T")


def form_save(
    request: HttpRequest,
    form: forms.Form,
    save: Callable[[dict[str, Any]], T],
    *,
    success: Callable[[T], str],
    then: str,
    aliases: dict[str, str] | None = None,
) -> HttpResponse | None:
    """`save(form.cleaned_data)` when the form is valid: then a success message and a redirect to
    the URL name `then`. None when the form, now with its errors, is to be shown again."""
    if not form.is_valid():
        return None
    try:
        saved = save(form.cleaned_data)
    except ValidationError as error:
        form_apply_errors(form, error, aliases=aliases)
        return None
    messages.success(request, success(saved))
    return redirect(then)


def service_action(
    request: HttpRequest, action: Callable[[], object], *, success: str, then: str
) -> HttpResponse:
    """Run `action` (a delete, a change): its refusal becomes an error message, else `success`
    does; either way back to the URL name `then`."""
    try:
        action()
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, success)
    return redirect(then)
