"""Configuration: custom attributes, event definitions, and the account with its members."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audience import access, selectors, services
from audience.forms import (
    AccountForm,
    AttributeDefinitionForm,
    EventDefinitionForm,
    MemberAddForm,
    MemberRoleForm,
)
from audience.htmx import render_page
from audience.models import AttributeDefinition, EventDefinition, Membership
from audience.views.actions import form_save, service_action

# A refusal about the properties of an event shows next to the first property row.
PROPERTIES_FIELD = {"properties": "property_0"}


@require_GET
@access.member_required
def configuration(request: HttpRequest) -> HttpResponse:
    return redirect("audience:attributes")


def _attributes_page(request: HttpRequest, form: AttributeDefinitionForm, status: int = 200) -> HttpResponse:
    context = {
        "nav": "configuration",
        "definitions": selectors.attribute_definitions(account=request.account),
        "form": form,
    }
    return render_page(request, "audience/attribute_list.html", context, status=status)


@require_GET
@access.member_required
def attributes(request: HttpRequest) -> HttpResponse:
    return _attributes_page(request, AttributeDefinitionForm())


@require_POST
@access.editor_required
def attribute_create(request: HttpRequest) -> HttpResponse:
    form = AttributeDefinitionForm(request.POST)
    saved = form_save(
        request,
        form,
        lambda data: services.attribute_definition_create(account=request.account, **data),
        success=lambda definition: f"The custom attribute {definition.name} was created.",
        then="audience:attributes",
    )
    return saved if saved is not None else _attributes_page(request, form, status=400)


@require_POST
@access.editor_required(row=AttributeDefinition)
def attribute_delete(request: HttpRequest, pk: int) -> HttpResponse:
    definition = access.get_attribute_definition(request, pk)
    return service_action(
        request,
        lambda: services.attribute_definition_delete(definition=definition),
        success=f"The custom attribute {definition.name} was deleted.",
        then="audience:attributes",
    )


@require_GET
@access.member_required
def event_definitions(request: HttpRequest) -> HttpResponse:
    context = {"nav": "configuration", "definitions": selectors.event_definitions(account=request.account)}
    return render_page(request, "audience/event_definition_list.html", context)


@require_http_methods(["GET", "POST"])
@access.editor_required
def event_definition_create(request: HttpRequest) -> HttpResponse:
    form = EventDefinitionForm(request.POST or None)
    if request.method == "POST":
        saved = form_save(
            request,
            form,
            lambda data: services.event_definition_create(
                account=request.account,
                name=data["name"],
                description=data["description"],
                properties=form.new_properties(),
            ),
            success=lambda definition: f"The event {definition.name} was created.",
            then="audience:event_definitions",
            aliases=PROPERTIES_FIELD,
        )
        if saved is not None:
            return saved
    context = {"nav": "configuration", "form": form}
    return render_page(
        request, "audience/event_definition_form.html", context, status=400 if form.errors else 200
    )


@require_http_methods(["GET", "POST"])
@access.editor_required(row=EventDefinition)
def event_definition_edit(request: HttpRequest, pk: int) -> HttpResponse:
    definition = access.get_event_definition(request, pk)
    form = EventDefinitionForm(
        request.POST or None, editing=True, initial={"description": definition.description}
    )
    if request.method == "POST":
        saved = form_save(
            request,
            form,
            lambda data: services.event_definition_update(
                definition=definition, description=data["description"], new_properties=form.new_properties()
            ),
            success=lambda _: f"The event {definition.name} was saved.",
            then="audience:event_definitions",
            aliases=PROPERTIES_FIELD,
        )
        if saved is not None:
            return saved
    context = {"nav": "configuration", "form": form, "definition": definition}
    return render_page(
        request, "audience/event_definition_form.html", context, status=400 if form.errors else 200
    )


@require_POST
@access.editor_required(row=EventDefinition)
def event_definition_delete(request: HttpRequest, pk: int) -> HttpResponse:
    definition = access.get_event_definition(request, pk)
    return service_action(
        request,
        lambda: services.event_definition_delete(definition=definition),
        success=f"The event {definition.name} was deleted.",
        then="audience:event_definitions",
    )


def _account_page(request: HttpRequest, *, form=None, add_form=None, status: int = 200) -> HttpResponse:
    account = request.account
    context = {
        "nav": "configuration",
        "form": form or AccountForm(initial={"name": account.name, "time_zone": account.time_zone}),
        "add_form": add_form or MemberAddForm(),
        "members": selectors.members(account=account),
        "role_form": MemberRoleForm(),
    }
    return render_page(request, "audience/account_detail.html", context, status=status)


@require_http_methods(["GET", "POST"])
@access.admin_required
def account(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _account_page(request)
    form = AccountForm(request.POST)
    saved = form_save(
        request,
        form,
        lambda data: services.account_update(account=request.account, **data),
        success=lambda _: "The account was saved.",
        then="audience:account",
    )
    return saved if saved is not None else _account_page(request, form=form, status=400)


@require_POST
@access.admin_required
def member_add(request: HttpRequest) -> HttpResponse:
    form = MemberAddForm(request.POST)
    saved = form_save(
        request,
        form,
        lambda data: services.membership_add(account=request.account, **data),
        success=lambda membership: (
            f"{membership.user.get_username()} was added as {membership.get_role_display()}."
        ),
        then="audience:account",
    )
    return saved if saved is not None else _account_page(request, add_form=form, status=400)


@require_POST
@access.admin_required(row=Membership)
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    membership = access.get_membership(request, pk)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role.")
        return redirect("audience:account")
    try:
        services.membership_role_change(membership=membership, role=form.cleaned_data["role"])
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{membership.user.get_username()} is now {membership.get_role_display()}.")
    return redirect("audience:account")


@require_POST
@access.admin_required(row=Membership)
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    membership = access.get_membership(request, pk)
    return service_action(
        request,
        lambda: services.membership_remove(membership=membership),
        success=f"{membership.user.get_username()} was removed from the account.",
        then="audience:account",
    )
