"""Posting to the webhooks the way the provider does: JSON bodies to the account's secret URLs,
then running the jobs the requests queued (on commit, as in production)."""

from __future__ import annotations

import json

from django.test import Client, TestCase
from django.urls import reverse


def reports_url(token: str) -> str:
    return reverse("webhooks:delivery_reports", args=[token])


def inbound_url(token: str) -> str:
    return reverse("webhooks:inbound_sms", args=[token])


def inbound_whatsapp_url(token: str) -> str:
    return reverse("webhooks:inbound_whatsapp", args=[token])


def post_json(url: str, payload, *, run: bool = True):
    """POST like the provider (no session, no CSRF token). With `run`, the jobs the request
    queued run when it commits."""
    client = Client(enforce_csrf_checks=True)
    with TestCase.captureOnCommitCallbacks(execute=run):
        return client.post(url, data=json.dumps(payload), content_type="application/json")


def report(key: str, group: str, *, done_at: str = "2026-12-01T10:00:00.000+0000", error: dict | None = None):
    """One of Infobip's delivery reports."""
    return {
        "bulkId": "bulk-1",
        "messageId": key,
        "to": "385912345678",
        "sentAt": "2026-12-01T09:59:58.000+0000",
        "doneAt": done_at,
        "smsCount": 1,
        "price": {"pricePerMessage": 0.01, "currency": "EUR"},
        "status": {
            "groupId": 3,
            "groupName": group,
            "id": 5,
            "name": f"{group}_X",
            "description": f"{group} text",
        },
        "error": error
        or {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR", "description": "No Error"},
    }


def inbound(
    message_id: str,
    sender: str,
    text: str,
    *,
    to: str = "38598765432",
    at: str = "2026-12-01T10:00:00.000+0000",
):
    """One of Infobip's inbound SMS (MO_JSON_2)."""
    return {
        "messageId": message_id,
        "from": sender,
        "to": to,
        "text": text,
        "cleanText": text,
        "keyword": text.split()[0].upper() if text.split() else "",
        "receivedAt": at,
        "smsCount": 1,
    }


def inbound_whatsapp(
    message_id: str,
    sender: str,
    text: str,
    *,
    to: str = "441134960000",
    at: str = "2026-12-01T10:00:00.000+0000",
):
    """One of Infobip's inbound WhatsApp messages (a text)."""
    return {
        "from": sender,
        "to": to,
        "integrationType": "WHATSAPP",
        "receivedAt": at,
        "messageId": message_id,
        "message": {"type": "TEXT", "text": text},
        "contact": {"name": "Someone"},
    }


def inbound_body(results: list[dict]) -> dict:
    return {"results": results, "messageCount": len(results), "pendingMessageCount": 0}


def load(response) -> dict:
    return json.loads(response.content)
