"""Companies: the list (search by name, profiles per company), the company card and its people,
creating and editing."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods

from audience import access, selectors, services
from audience.forms import CompanyForm, form_apply_errors
from audience.htmx import render_page
from audience.models import Company


@require_GET
@access.member_required
def companies(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")
    page = selectors.company_list(
        account=request.account,
        search=search,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
    )
    context = {
        "nav": "companies",
        "page": page,
        "search": search,
    }
    return render_page(request, "audience/company_list.html", context, partial="results")


@require_GET
@access.member_required
def company(request: HttpRequest, pk: int) -> HttpResponse:
    found = access.get_company(request, pk)
    page = selectors.company_profiles(
        company=found, after=request.GET.get("after"), before=request.GET.get("before")
    )
    context = {
        "nav": "companies",
        "company": found,
        "page": page,
    }
    return render_page(request, "audience/company_detail.html", context, partial="people")


@require_http_methods(["GET", "POST"])
@access.editor_required
def company_create(request: HttpRequest) -> HttpResponse:
    form = CompanyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.company_create(account=request.account, fields=form.cleaned_data)
        except ValidationError as error:
            form_apply_errors(form, error)
        else:
            messages.success(request, f"{created.name} was created.")
            return redirect(created)
    context = {"nav": "companies", "form": form}
    return render_page(request, "audience/company_form.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@access.editor_required(row=Company)
def company_edit(request: HttpRequest, pk: int) -> HttpResponse:
    found = access.get_company(request, pk)
    form = CompanyForm(request.POST or None, instance=found)
    if request.method == "POST" and form.is_valid():
        try:
            services.company_update(company=found, fields=form.cleaned_data)
        except ValidationError as error:
            form_apply_errors(form, error)
        else:
            messages.success(request, f"{found.name} was saved.")
            return redirect(found)
    context = {"nav": "companies", "form": form, "company": access.get_company(request, pk)}
    return render_page(request, "audience/company_form.html", context, status=400 if form.errors else 200)
