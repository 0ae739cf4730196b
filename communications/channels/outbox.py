"""The embedded default: every message, rendered, kept in the sandbox outbox instead of sent.

Idempotent by the outbox's unique key: a repeated hand-off inserts nothing."""

from __future__ import annotations

from django.utils import timezone

from communications.backends import BaseBackend, Outgoing
from communications.channels import email
from communications.models import OutboxMessage


class OutboxChannel(BaseBackend):
    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        now = timezone.now()
        rows = [
            OutboxMessage(
                account_id=m.account_id,
                broadcast_id=m.broadcast_id or None,
                key=m.key,
                channel=m.channel,
                sender=email.from_header(m) if m.channel == "EMAIL" else m.sender,
                destination=m.destination,
                subject=m.subject,
                text=m.text,
                html=m.html,
                headers=email.list_headers(m) if m.channel == "EMAIL" else {},
                created_at=now,
            )
            for m in messages
        ]
        OutboxMessage.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        return {}
