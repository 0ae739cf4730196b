"""Confirmation replies to end users' messages (STOP, START, HELP), handed to the channel layer.

A reply is an outgoing record of its own: its text and status live on the `InboundMessage` it
answers (`reply_text`, `reply_status`, `reply_error`). It is written `queued` in the same commit
as the opt-out it confirms, handed over after that commit, then marked sent or failed; a worker
killed in between leaves it `queued` and the batch's next run hands it over again with the same
idempotency key (`reply:<account id>:<provider's message id>`), which the backend delivers at
most once.

The one place that knows how a reply leaves Audience is `reply_send`: the configured channel
backend of the channel the message came by (`communications.backends.backend_get(SMS or
WHATSAPP)`), one reply per call. On WhatsApp a reply is free-form text: the person just wrote, so
it is inside the 24-hour window (communications.whatsapp). When the channel
layer takes senders and channels of its own, re-point `reply_send` and nothing else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from communications import backends
from communications.models import InboundMessage, ReplyStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplyOutgoing(backends.Outgoing):
    """An `Outgoing` that belongs to no broadcast: its key is the reply's, not a broadcast's."""

    reply_key: str = ""

    @property
    def key(self) -> str:
        return self.reply_key


def reply_key(message: InboundMessage) -> str:
    return f"reply:{message.account_id}:{message.message_id}"


def reply_send(message: InboundMessage) -> str:
    """Hand one reply over; "" when it went, else the reason it did not."""
    outgoing = ReplyOutgoing(
        broadcast_id=0,
        profile_id=0,
        channel=message.channel,
        sender=message.to,
        destination=message.number,
        text=message.reply_text,
        account_id=message.account_id,
        reply_key=reply_key(message),
    )
    try:
        failures = backends.backend_get(message.channel).send([outgoing])
    except Exception as error:  # the provider is down: this reply failed, the batch goes on
        logger.exception("reply %s failed", outgoing.key)
        return f"The channel backend failed: {error}"[:500]
    return str(next(iter(failures.values()), ""))[:500]


def replies_hand_over(*, batch_id: int) -> int:
    """Hand over the batch's queued replies (outside any transaction: no lock is held while the
    provider answers) and record each outcome; returns how many were handed over."""
    queued = list(
        InboundMessage.objects.filter(batch_id=batch_id, reply_status=ReplyStatus.QUEUED).order_by("id")
    )
    for message in queued:
        error = reply_send(message)
        InboundMessage.objects.filter(pk=message.pk, reply_status=ReplyStatus.QUEUED).update(
            reply_status=ReplyStatus.FAILED if error else ReplyStatus.SENT, reply_error=error
        )
    return len(queued)
