from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from audience import access, health, services
from audience.htmx import render_page
from audience.models import Notification
from segments.engines import store


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("audience:people" if request.user.is_authenticated else "login")


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says; the file lives with the static files
    (hashed in production), so this points there."""
    return redirect(static("favicon.ico"))


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = [health.database_ok(), health.broker_ok()]
    ok = all(passed for passed, _ in checks)
    body: dict = {"status": "ok" if ok else "error", "checks": [text for _, text in checks]}
    if replicas := health.replicas_status():
        body["replicas"] = replicas
    body["counts"] = health.count_engine_status(store.status)
    return JsonResponse(body, status=200 if ok else 503)


@require_POST
@login_required
def account_switch(request: HttpRequest, account_id: int) -> HttpResponse:
    membership = access.account_switch(request, account_id)
    messages.info(request, f"You are now working in {membership.account.name}.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("audience:people")
    return redirect(target)


@require_GET
@access.member_required
def notifications(request: HttpRequest) -> HttpResponse:
    items = Notification.objects.filter(account=request.account, user=request.user)[:100]
    return render_page(request, "audience/notification_list.html", {"notifications": items})


@require_GET
@access.member_required
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    notification = access.get_notification(request, pk)
    services.notifications_mark_read(account=request.account, user=request.user, pk=notification.pk)
    return redirect(notification.url or "audience:notifications")


@require_POST
@access.member_required
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    services.notifications_mark_read(account=request.account, user=request.user)
    return redirect("audience:notifications")
