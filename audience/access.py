"""Who may see and change what. Every view starts here.

A user reaches an account through a Membership; the current one is kept in the session. Getters
return rows of the current account only and answer 404 for anything else, so another account's
row is indistinguishable from a row that does not exist. The row is looked up before the role is
checked: 404 for a row of another account, 403 only for a member of the row's account whose role
can't do what was asked.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from audience.models import (
    AttributeDefinition,
    Company,
    EventDefinition,
    Membership,
    Notification,
    Profile,
    Role,
)

SESSION_KEY = "account_id"
M = TypeVar("M", bound=Model)
View = Callable[..., HttpResponse]


def current_membership(request: HttpRequest) -> Membership | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    memberships = Membership.objects.select_related("account").filter(user=user)
    account_id = request.session.get(SESSION_KEY)
    if account_id is not None:
        found = memberships.filter(account_id=account_id).first()
        if found:
            return found
    return memberships.order_by("account__name").first()


def account_switch(request: HttpRequest, account_id: int) -> Membership:
    membership = get_object_or_404(Membership, user=request.user, account_id=account_id)
    request.session[SESSION_KEY] = membership.account_id
    return membership


Row = type[Model] | Callable[..., Model]


def _row_lookup(request: HttpRequest, row: Row, kwargs: dict) -> Model:
    """The row the URL names, in the current account (404 otherwise): `row` is a model, looked
    up by the URL's `pk`, or a getter taking the request and the URL's arguments."""
    if isinstance(row, type) and issubclass(row, Model):
        return get_scoped(request, row, kwargs["pk"])
    return row(request, **kwargs)


def _role_required(allowed: tuple[str, ...]):
    """A view decorator: members whose role is in `allowed` reach the view, others get 403.

    A view whose URL names a row says which with `row=` (a model looked up by `pk`, or a getter):
    the row is looked up in the current account before the role is checked, so a row of another
    account answers 404 whatever the role, and 403 is only for a member of the row's own account
    whose role can't do this. A view that takes URL arguments without `row=` is refused when the
    module loads, unless every role may use it (it then looks the row up itself)."""

    def decorator(view: View | None = None, /, *, row: Row | None = None):
        if view is None:
            return lambda actual: decorator(actual, row=row)
        names = list(inspect.signature(view).parameters)[1:]
        if names and row is None and set(allowed) != set(Role.values):
            raise ImproperlyConfigured(
                f"{view.__module__}.{view.__qualname__} takes {', '.join(names)}: "
                "name the row with row= so another account's row answers 404 before the role is checked."
            )

        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.membership is None:
                return render(request, "audience/no_account.html", status=403)
            if request.membership.role not in allowed:
                if row is not None:
                    _row_lookup(request, row, kwargs)
                raise PermissionDenied("Your role in this account can't make this change.")
            return view(request, *args, **kwargs)

        wrapped.access_roles = allowed  # type: ignore[attr-defined]
        return wrapped

    return decorator


# Any member may read; marketers and admins change data; admins manage the account itself.
member_required = _role_required((Role.ADMIN, Role.MARKETER, Role.VIEWER))
editor_required = _role_required((Role.ADMIN, Role.MARKETER))
admin_required = _role_required((Role.ADMIN,))


def get_scoped(request: HttpRequest, model: type[M], pk: int | str) -> M:
    """The row `pk` of `model` in the current account, or 404."""
    try:
        return model.objects.get(account=request.account, pk=pk)
    except (model.DoesNotExist, ValueError, TypeError):
        raise Http404(f"No {model._meta.verbose_name} here.") from None


def get_profile(request: HttpRequest, pk: int | str) -> Profile:
    return get_scoped(request, Profile, pk)


def get_company(request: HttpRequest, pk: int | str) -> Company:
    return get_scoped(request, Company, pk)


def get_attribute_definition(request: HttpRequest, pk: int | str) -> AttributeDefinition:
    return get_scoped(request, AttributeDefinition, pk)


def get_event_definition(request: HttpRequest, pk: int | str) -> EventDefinition:
    return get_scoped(request, EventDefinition, pk)


def get_notification(request: HttpRequest, pk: int | str) -> Notification:
    try:
        return Notification.objects.get(account=request.account, user=request.user, pk=pk)
    except (Notification.DoesNotExist, ValueError):
        raise Http404("No notification here.") from None


def get_membership(request: HttpRequest, pk: int | str) -> Membership:
    return get_scoped(request, Membership, pk)
