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
    form_apply_errors,
)
from audience.htmx import render_page
from audience.models import AttributeDefinition, EventDefinition, Membership


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
    if form.is_valid():
        try:
            definition = services.attribute_definition_create(account=request.account, **form.cleaned_data)
        except ValidationError as error:
            form_apply_errors(form, error)
        else:
            messages.success(request, f"The custom attribute {definition.name} was created.")
            return redirect("audience:attributes")
    return _attributes_page(request, form, status=400)


@require_POST
@access.editor_required(row=AttributeDefinition)
def attribute_delete(request: HttpRequest, pk: int) -> HttpResponse:
    definition = access.get_attribute_definition(request, pk)
    try:
        services.attribute_definition_delete(definition=definition)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"The custom attribute {definition.name} was deleted.")
    return redirect("audience:attributes")


@require_GET
@access.member_required
def event_definitions(request: HttpRequest) -> HttpResponse:
    context = {"nav": "configuration", "definitions": selectors.event_definitions(account=request.account)}
    return render_page(request, "audience/event_definition_list.html", context)


@require_http_methods(["GET", "POST"])
@access.editor_required
def event_definition_create(request: HttpRequest) -> HttpResponse:
    form = EventDefinitionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            definition = services.event_definition_create(
                account=request.account,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                properties=form.new_properties(),
            )
        except ValidationError as error:
            form_apply_errors(form, error, aliases={"properties": "property_0"})
        else:
            messages.success(request, f"The event {definition.name} was created.")
            return redirect("audience:event_definitions")
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
    if request.method == "POST" and form.is_valid():
        try:
            services.event_definition_update(
                definition=definition,
                description=form.cleaned_data["description"],
                new_properties=form.new_properties(),
            )
        except ValidationError as error:
            form_apply_errors(form, error, aliases={"properties": "property_0"})
        else:
            messages.success(request, f"The event {definition.name} was saved.")
            return redirect("audience:event_definitions")
    context = {"nav": "configuration", "form": form, "definition": definition}
    return render_page(
        request, "audience/event_definition_form.html", context, status=400 if form.errors else 200
    )


@require_POST
@access.editor_required(row=EventDefinition)
def event_definition_delete(request: HttpRequest, pk: int) -> HttpResponse:
    definition = access.get_event_definition(request, pk)
    try:
        services.event_definition_delete(definition=definition)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"The event {definition.name} was deleted.")
    return redirect("audience:event_definitions")


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
    if form.is_valid():
        try:
            services.account_update(account=request.account, **form.cleaned_data)
        except ValidationError as error:
            form_apply_errors(form, error)
        else:
            messages.success(request, "The account was saved.")
            return redirect("audience:account")
    return _account_page(request, form=form, status=400)


@require_POST
@access.admin_required
def member_add(request: HttpRequest) -> HttpResponse:
    form = MemberAddForm(request.POST)
    if form.is_valid():
        try:
            membership = services.membership_add(account=request.account, **form.cleaned_data)
        except ValidationError as error:
            form_apply_errors(form, error)
        else:
            messages.success(
                request, f"{membership.user.get_username()} was added as {membership.get_role_display()}."
            )
            return redirect("audience:account")
    return _account_page(request, add_form=form, status=400)


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
    try:
        services.membership_remove(membership=membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{membership.user.get_username()} was removed from the account.")
    return redirect("audience:account")
