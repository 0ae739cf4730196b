"""URL opt-out: the signed, unguessable link in every email, and what a click on it does.

The token is `<broadcast id>.<profile id>:<signature>` (ids in base 36, the signature the first
128 bits of an HMAC-SHA256 of the ids, base64url, under a key derived from SECRET_KEY with its own
salt): it names one message and can't be made or changed without SECRET_KEY, so no one can walk
ids. One HMAC a message, no JSON, no compression: an email send signs one for every recipient.
Tokens of the earlier format (`django.core.signing` of `[broadcast id, profile id]`) are still
read, and SECRET_KEY_FALLBACKS are honoured for both. A flow's email signs its message key
(`f<flow>:<step>:<profile>[:entries]`, written `f<flow>.<step>.<profile>[.<entries>]` in the
token, the HMAC over `flow:` and that payload so it can't pass for a broadcast's) the same way,
one HMAC a message; the earlier flow tokens (`django.core.signing` of the key, same salt) are
still read. A flow's opt-out has the flow's name as campaign. It does not expire: an old email's link still works. Opting out adds the message's destination to Do
Not Contact for the Email channel in the broadcast's account, source "URL opt-out", campaign = the
broadcast's name, through `dnc.services` (so with its audit row); a second click changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core import signing
from django.urls import reverse

from communications.models import Broadcast, Flow, FlowMessage, Message
from dnc import services as dnc_services
from dnc.models import Channel, How, Source

SALT = "communications.unsubscribe"
_signer = signing.Signer(salt=SALT)  # the earlier tokens' format, still read
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


@lru_cache(maxsize=8)
def _key(secret: str) -> bytes:
    return hashlib.sha256(f"{SALT}:{secret}".encode()).digest()


def _b36(number: int) -> str:
    if number <= 0:
        return "0"
    digits = []
    while number:
        number, rest = divmod(number, 36)
        digits.append(_DIGITS[rest])
    return "".join(reversed(digits))


def _signature(payload: str, secret: str) -> str:
    digest = hmac.new(_key(secret), payload.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def unsubscribe_token(broadcast_id: int, profile_id: int) -> str:
    payload = f"{_b36(broadcast_id)}.{_b36(profile_id)}"
    return f"{payload}:{_signature(payload, settings.SECRET_KEY)}"


def token_read(token: str) -> tuple[int, int] | None:
    """(broadcast id, profile id) a token names, or None for one not signed with our key."""
    payload, _, signature = token.partition(":")
    if _FLOW_PAYLOAD.fullmatch(payload):  # a flow's token
        return None
    broadcast_part, dot, profile_part = payload.partition(".")
    if dot and signature and "." not in profile_part:
        for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
            if hmac.compare_digest(signature, _signature(payload, secret)):
                try:
                    return int(broadcast_part, 36), int(profile_part, 36)
                except ValueError:
                    return None
        return None
    try:  # the earlier format
        signed = _signer.unsign_object(token)
        if not isinstance(signed, list):  # a flow's message key
            return None
        broadcast_id, profile_id = signed
        return int(broadcast_id), int(profile_id)
    except (signing.BadSignature, ValueError, TypeError):
        return None


def unsubscribe_url_maker():
    """`make(broadcast_id, profile_id) -> url`, with the URL reversed once (not once a message)."""
    marker = "TOKEN"
    path = reverse("communications:unsubscribe", args=[marker])
    head, _, tail = f"{settings.PUBLIC_BASE_URL}{path}".rpartition(marker)
    return lambda broadcast_id, profile_id: f"{head}{unsubscribe_token(broadcast_id, profile_id)}{tail}"


def unsubscribe_url(broadcast_id: int, profile_id: int) -> str:
    return unsubscribe_url_maker()(broadcast_id, profile_id)


_FLOW_PAYLOAD = re.compile(r"f\d+(\.\d+){2,3}")


def flow_unsubscribe_token(key: str) -> str:
    """The token of a flow's message key `f<flow>:<step>:<profile>[:entries]`: one HMAC."""
    payload = key.replace(":", ".")
    return f"{payload}:{_signature('flow:' + payload, settings.SECRET_KEY)}"


def flow_token_read(token: str) -> str | None:
    """The message key a flow's token names (either format), or None."""
    payload, _, signature = token.partition(":")
    if signature and _FLOW_PAYLOAD.fullmatch(payload):
        for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
            if hmac.compare_digest(signature, _signature("flow:" + payload, secret)):
                return payload.replace(".", ":")
        return None
    try:  # the earlier format
        key = _signer.unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return key if isinstance(key, str) else None


def flow_unsubscribe_url_maker():
    """`make(key) -> url` for a flow's messages, with the URL reversed once."""
    marker = "TOKEN"
    path = reverse("communications:unsubscribe", args=[marker])
    head, _, tail = f"{settings.PUBLIC_BASE_URL}{path}".rpartition(marker)
    return lambda key: f"{head}{flow_unsubscribe_token(key)}{tail}"


def flow_unsubscribe_url(key: str) -> str:
    """The link of a flow's email: the token signs the message's key (`f<flow>:<step>:<profile>`)."""
    return flow_unsubscribe_url_maker()(key)


@dataclass(frozen=True)
class OptOut:
    message: Message | FlowMessage
    broadcast: Broadcast | Flow  # what sent it: its account and name (the Do Not Contact campaign)


def _flow_optout(token: str) -> OptOut | None:
    key = flow_token_read(token)
    if key is None:
        return None
    message = (
        FlowMessage.objects.select_related("flow", "flow__account")
        .filter(key=key, channel=Channel.EMAIL)
        .exclude(destination="")
        .first()
    )
    return OptOut(message, message.flow) if message else None


def optout_find(*, token: str) -> OptOut | None:
    """The message a token names (None for a token that is not ours or names nothing)."""
    ids = token_read(token)
    if ids is None:
        return _flow_optout(token)
    broadcast_id, profile_id = ids
    try:
        message = (
            Message.objects.select_related("broadcast", "broadcast__account")
            .filter(broadcast_id=int(broadcast_id), profile_id=int(profile_id), channel=Channel.EMAIL)
            .exclude(destination="")
            .get()
        )
    except Message.DoesNotExist:
        return None
    return OptOut(message, message.broadcast)


def optout_apply(*, optout: OptOut) -> bool:
    """Put the message's address on Do Not Contact for Email; True when it was not there yet."""
    report = dnc_services.dnc_entries_add(
        accounts=[optout.broadcast.account],
        entries=[{"contact": optout.message.destination, "channel": Channel.EMAIL}],
        source=Source.URL_OPT_OUT,
        campaign=optout.broadcast.name,
        how=How.SOURCE,
    )
    return bool(report.created + report.merged)
