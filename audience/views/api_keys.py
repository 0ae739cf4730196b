"""API keys (Configuration › API keys): account admins list, create and revoke the keys scripts use
with `Authorization: App <key>`. A new key is shown once, on the page that answers its creation."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from audience import access, api_auth
from audience.htmx import render_page
from audience.models import ApiKey, ApiScope


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Say what uses it, e.g. “CRM sync”.")
    scope = forms.ChoiceField(
        choices=ApiScope.choices,
        initial=ApiScope.READ_WRITE,
        help_text="Read-only keys can list, get, count and check, but never change data.",
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the key a name.")
        return name


def _page(request: HttpRequest, form: ApiKeyForm, *, new_key: str = "", status: int = 200) -> HttpResponse:
    context = {
        "nav": "configuration",
        "keys": ApiKey.objects.for_account(request.account).select_related("created_by"),
        "form": form,
        "new_key": new_key,
    }
    response = render_page(request, "audience/apikey_list.html", context, status=status)
    if new_key:
        add_never_cache_headers(response)  # the key must not linger in any cache
    return response


@require_GET
@access.admin_required
def api_keys(request: HttpRequest) -> HttpResponse:
    return _page(request, ApiKeyForm())


@require_POST
@access.admin_required
def api_key_create(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    _, plain = api_auth.api_key_create(account=request.account, user=request.user, **form.cleaned_data)
    return _page(request, ApiKeyForm(), new_key=plain, status=201)


@require_POST
@access.admin_required(row=ApiKey)
def api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = access.get_scoped(request, ApiKey, pk)
    api_auth.api_key_revoke(key=key)
    messages.success(request, f"The key {key.name} was revoked: requests with it now answer 401.")
    return redirect("audience:api_keys")
