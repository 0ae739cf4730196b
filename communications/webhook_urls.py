"""The provider's webhooks, mounted at /webhooks/ (outside the login: the secret is the key)."""

from __future__ import annotations

from django.urls import path

from communications import webhook_views

app_name = "webhooks"

urlpatterns = [
    path("<str:token>/delivery-reports/", webhook_views.delivery_reports, name="delivery_reports"),
    path("<str:token>/inbound-sms/", webhook_views.inbound_sms, name="inbound_sms"),
    path("<str:token>/inbound-whatsapp/", webhook_views.inbound_whatsapp, name="inbound_whatsapp"),
]
