"""The channel backends Audience ships, and which one sends a channel's messages.

- `email.SmtpChannel`: email over SMTP through Django's email framework, when `EMAIL_HOST` is set.
- `infobip.InfobipChannel`: SMS through Infobip's API with its official client, and
  `infobip.InfobipMessagesChannel`: WhatsApp and Viber through Infobip's Messages API with the same
  client, when `INFOBIP_BASE_URL` and `INFOBIP_API_KEY` are set.
- `webhook.WebhookChannel`: signed JSON batches to `COMMUNICATIONS_WEBHOOK_URL`, for a channel the
  two above do not carry (or all of them, when neither is configured).
- `outbox.OutboxChannel`: the embedded default; keeps each rendered message in the sandbox outbox
  (Communications › Outbox) and sends nothing.

Each honours the idempotency key (`backends.Outgoing.key`): see each module for how.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from communications.backends import BaseBackend

logger = logging.getLogger("communications.send")
T = TypeVar("T")
# The channels Infobip carries for Audience: SMS on /sms/3, the others on the Messages API.
INFOBIP_CHANNELS = frozenset({"SMS", "WHATSAPP", "VIBER"})


class TransientError(Exception):
    """The provider could not answer this time (5xx, timeout, dropped connection): try again."""


def channel_backend(channel: str) -> BaseBackend:
    # Each module is imported when its channel is chosen: Infobip's client alone takes seconds to
    # import (its pydantic models), which an email send should not pay.
    if channel == "EMAIL" and settings.EMAIL_HOST:
        from communications.channels import email

        return email.SmtpChannel()
    if channel in INFOBIP_CHANNELS and settings.INFOBIP_BASE_URL and settings.INFOBIP_API_KEY:
        from communications.channels import infobip

        return infobip.InfobipChannel() if channel == "SMS" else infobip.InfobipMessagesChannel()
    if settings.COMMUNICATIONS_WEBHOOK_URL:
        from communications.channels import webhook

        return webhook.WebhookChannel()
    from communications.channels import outbox

    return outbox.OutboxChannel()


def with_retries(call: Callable[[], T], what: str, tried: int = 0) -> T:
    """`call()`, again after SEND_RETRY_MS, 2×, 4×… while it raises TransientError, at most
    SEND_ATTEMPTS times in all; the last TransientError propagates (the batch fails with it).
    `tried`: attempts already made another way (the first call then waits its pause)."""
    pause = settings.SEND_RETRY_MS / 1000
    for _ in range(tried):
        time.sleep(pause)
        pause *= 2
    last = max(settings.SEND_ATTEMPTS, tried + 1)
    for attempt in range(tried + 1, last + 1):
        try:
            return call()
        except TransientError as error:
            if attempt == last:
                raise
            logger.warning("%s failed (attempt %s): %s; retrying in %.1f s", what, attempt, error, pause)
            time.sleep(pause)
            pause *= 2
    raise AssertionError("unreachable")
