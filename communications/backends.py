"""Channel backends: what hands a broadcast's messages to the outside world.

The backend is a setting, `COMMUNICATIONS_BACKEND` (a dotted path; default
`communications.backends.LoggingBackend`, which writes each message to the log and sends nothing).
A backend gets a batch of `Outgoing` messages and answers, for each one it could not deliver, the
reason: `{profile_id: "error"}`. Anything it does not mention counts as sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("communications.send")

DEFAULT_BACKEND = "communications.backends.LoggingBackend"


@dataclass(frozen=True)
class Outgoing:
    broadcast_id: int
    profile_id: int
    channel: str
    sender: str
    destination: str
    text: str


class BaseBackend:
    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        raise NotImplementedError


class LoggingBackend(BaseBackend):
    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        for message in messages:
            logger.info(
                "broadcast %s: %s from %r to %s: %s",
                message.broadcast_id,
                message.channel,
                message.sender,
                message.destination,
                message.text[:80],
            )
        return {}


class MemoryBackend(BaseBackend):
    """Keeps what it was given in `outbox` (for tests); fails destinations listed in `failing`."""

    outbox: list[Outgoing] = []
    failing: set[str] = set()

    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        failures: dict[int, str] = {}
        for message in messages:
            if message.destination in self.failing:
                failures[message.profile_id] = "The provider refused the destination."
            else:
                MemoryBackend.outbox.append(message)
        return failures


def backend_get() -> BaseBackend:
    return import_string(getattr(settings, "COMMUNICATIONS_BACKEND", DEFAULT_BACKEND))()
