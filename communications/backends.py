"""Channel backends: what hands a broadcast's messages to the outside world.

The backend is a setting, `COMMUNICATIONS_BACKEND` (a dotted path; default
`communications.backends.LoggingBackend`, which writes each message to the log and sends nothing).
A backend gets a batch of `Outgoing` messages and answers, for each one it could not deliver, the
reason: `{profile_id: "error"}`. Anything it does not mention counts as sent.

Every message carries an idempotency `key` (`"<broadcast id>:<profile id>"`). Audience hands a
message over again, with the same key, when a worker died after the hand-off and before its outcome
was committed; a backend must therefore deliver at most once per key: pass the key to the
provider's own idempotency/de-duplication field (most SMS and email APIs take one) or remember the
keys it has delivered. A second hand-off of a delivered key is answered as sent.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("communications.send")

DEFAULT_BACKEND = "communications.backends.LoggingBackend"


def message_key(broadcast_id: int, profile_id: int) -> str:
    """The idempotency key of one broadcast's message to one profile: the same on every hand-off."""
    return f"{broadcast_id}:{profile_id}"


@dataclass(frozen=True)
class Outgoing:
    broadcast_id: int
    profile_id: int
    channel: str
    sender: str
    destination: str
    text: str

    @property
    def key(self) -> str:
        return message_key(self.broadcast_id, self.profile_id)


class BaseBackend:
    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        """Deliver each message at most once per `message.key`; return {profile_id: error}."""
        raise NotImplementedError


class LoggingBackend(BaseBackend):
    """Logs each message with its key. It remembers the last RECENT_KEYS keys of this process and
    logs a repeated one as a duplicate instead (a hand-off repeated after a worker died comes from
    another process: the key in the log line is what tells the two apart)."""

    RECENT_KEYS = 100_000
    recent: OrderedDict[str, None] = OrderedDict()

    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        for message in messages:
            if message.key in self.recent:
                logger.info(
                    "broadcast %s: %s already handed over; not sent again", message.broadcast_id, message.key
                )
                continue
            self.recent[message.key] = None
            if len(self.recent) > self.RECENT_KEYS:
                self.recent.popitem(last=False)
            logger.info(
                "broadcast %s: %s %s from %r to %s: %s",
                message.broadcast_id,
                message.key,
                message.channel,
                message.sender,
                message.destination,
                message.text[:80],
            )
        return {}


class MemoryBackend(BaseBackend):
    """Keeps what it delivered in `outbox` (for tests) and a repeated hand-off of a delivered key
    in `dedups` (not delivered again); fails destinations listed in `failing`."""

    outbox: list[Outgoing] = []
    dedups: list[Outgoing] = []
    failing: set[str] = set()

    @classmethod
    def reset(cls) -> None:
        cls.outbox, cls.dedups, cls.failing = [], [], set()

    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        failures: dict[int, str] = {}
        delivered = {message.key for message in MemoryBackend.outbox}
        for message in messages:
            if message.destination in self.failing:
                failures[message.profile_id] = "The provider refused the destination."
            elif message.key in delivered:
                MemoryBackend.dedups.append(message)
            else:
                MemoryBackend.outbox.append(message)
                delivered.add(message.key)
        return failures


def backend_get() -> BaseBackend:
    return import_string(getattr(settings, "COMMUNICATIONS_BACKEND", DEFAULT_BACKEND))()
