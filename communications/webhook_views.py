"""The provider's webhooks (delivery reports, inbound SMS) and the screen that configures them
(Configuration › Inbound SMS).

A webhook URL carries the account's secret: `/webhooks/<secret>/delivery-reports/` and
`/webhooks/<secret>/inbound-sms/`. A wrong or missing secret answers 404 and writes nothing; a
body that is not what the provider sends answers 400 naming the problem and writes nothing; an
accepted one is stored and answered 200 at once, its work done by a job (communications.webhooks).
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from audience import access
from audience.htmx import render_page
from communications import inbound, inbound_forms, selectors, webhooks
from communications.models import WebhookKind


def _receive(request: HttpRequest, token: str, kind: str) -> JsonResponse:
    account = webhooks.webhook_account(token=token)
    if account is None:
        return JsonResponse({"error": "Unknown webhook."}, status=404)
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as error:
        return JsonResponse({"error": f"The body is not JSON: {error}"}, status=400)
    try:
        batch = webhooks.webhook_batch_receive(account=account, kind=kind, payload=payload)
    except ValidationError as error:
        return JsonResponse({"error": " ".join(error.messages)}, status=400)
    return JsonResponse({"batch": batch.pk, "results": batch.total})


@csrf_exempt  # the provider has no session; the secret in the URL is what lets it in
@require_POST
def delivery_reports(request: HttpRequest, token: str) -> JsonResponse:
    return _receive(request, token, WebhookKind.DELIVERY_REPORTS)


@csrf_exempt
@require_POST
def inbound_sms(request: HttpRequest, token: str) -> JsonResponse:
    return _receive(request, token, WebhookKind.INBOUND_SMS)


@csrf_exempt
@require_POST
def inbound_whatsapp(request: HttpRequest, token: str) -> JsonResponse:
    """Infobip's inbound WhatsApp messages: kept, so a broadcast knows who is inside WhatsApp's
    24-hour window (communications.whatsapp)."""
    return _receive(request, token, WebhookKind.INBOUND_WHATSAPP)


def _settings_page(request: HttpRequest, form, *, new_token: str = "", status: int = 200) -> HttpResponse:
    context = {
        "nav": "configuration",
        "form": form,
        "settings_row": selectors.inbound_settings(account=request.account),
        "new_urls": _urls(request, new_token) if new_token else None,
        "inbound_messages": selectors.inbound_messages_recent(account=request.account),
        "batches": selectors.webhook_batches_recent(account=request.account),
    }
    response = render_page(request, "communications/inbound_settings.html", context, status=status)
    if new_token:
        add_never_cache_headers(response)  # the secret must not linger in any cache
    return response


def _urls(request: HttpRequest, token: str) -> dict[str, str]:
    return {
        "delivery_reports": request.build_absolute_uri(reverse("webhooks:delivery_reports", args=[token])),
        "inbound_sms": request.build_absolute_uri(reverse("webhooks:inbound_sms", args=[token])),
        "inbound_whatsapp": request.build_absolute_uri(reverse("webhooks:inbound_whatsapp", args=[token])),
    }


@require_GET
@access.admin_required
def inbound_settings(request: HttpRequest) -> HttpResponse:
    row = selectors.inbound_settings(account=request.account)
    initial = {
        field: getattr(row, field, "")
        for field in ("stop_words", "start_words", "reply_stop", "reply_start", "reply_help")
    }
    return _settings_page(request, inbound_forms.InboundSettingsForm(initial=initial))


@require_POST
@access.admin_required
def inbound_settings_save(request: HttpRequest) -> HttpResponse:
    form = inbound_forms.InboundSettingsForm(request.POST)
    if form.is_valid():
        try:
            inbound.inbound_settings_save(account=request.account, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field, errors)
        else:
            messages.success(request, "Inbound SMS settings saved.")
            return redirect("communications:inbound_settings")
    return _settings_page(request, form, status=400)


@require_POST
@access.admin_required
def webhook_token_rotate(request: HttpRequest) -> HttpResponse:
    token = webhooks.webhook_token_rotate(account=request.account, user=request.user)
    row = selectors.inbound_settings(account=request.account)
    initial = {
        f: getattr(row, f) for f in ("stop_words", "start_words", "reply_stop", "reply_start", "reply_help")
    }
    return _settings_page(
        request, inbound_forms.InboundSettingsForm(initial=initial), new_token=token, status=201
    )
