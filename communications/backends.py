"""Channel backends: what hands a broadcast's messages to the outside world.

Each channel's backend is chosen by settings (`communications.channels.channel_backend`: SMTP,
Infobip, the signed webhook or the sandbox outbox); `COMMUNICATIONS_BACKEND` (a dotted path)
overrides them all with one class, as the tests do. A backend gets a batch of `Outgoing` messages and answers, for each one it could not deliver, the
reason: `{profile_id: "error"}`. Anything it does not mention counts as sent.

Every message carries an idempotency `key` (`"<broadcast id>:<profile id>"`). Audience hands a
message over again, with the same key, when a worker died after the hand-off and before its outcome
was committed; a backend must therefore deliver at most once per key: pass the key to the
provider's own idempotency/de-duplication field (most SMS and email APIs take one) or remember the
keys it has delivered. A second hand-off of a delivered key is answered as sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string


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
    subject: str = ""
    html: str = ""
    sender_label: str = ""  # an email's From name
    unsubscribe_url: str = ""  # the signed one-click link (emails)
    account_id: int = 0
    # A WhatsApp template (outside the 24-hour window): its name, language and the body
    # placeholders rendered for this person; `text` then says in words what was sent.
    template: str = ""
    language: str = ""
    placeholders: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return message_key(self.broadcast_id, self.profile_id)


class BaseBackend:
    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        """Deliver each message at most once per `message.key`; return {profile_id: error}."""
        raise NotImplementedError


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


def backend_get(channel: str = "") -> BaseBackend:
    """The backend that sends `channel`'s messages (one class for all when COMMUNICATIONS_BACKEND
    names one)."""
    if settings.COMMUNICATIONS_BACKEND:
        return import_string(settings.COMMUNICATIONS_BACKEND)()
    from communications import channels

    return channels.channel_backend(channel)
