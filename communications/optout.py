"""URL opt-out: the signed, unguessable link in every email, and what a click on it does.

The token is `django.core.signing` of the message's (broadcast id, profile id) with its own salt:
it names one message and can't be made or changed without SECRET_KEY, so no one can walk ids (a
flow's email signs its message key instead, and opts out with the flow's name as campaign). It
does not expire: an old email's link still works. Opting out adds the message's destination to Do
Not Contact for the Email channel in the broadcast's account, source "URL opt-out", campaign = the
broadcast's name, through `dnc.services` (so with its audit row); a second click changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

from communications.models import Broadcast, Flow, FlowMessage, Message
from dnc import services as dnc_services
from dnc.models import Channel, How, Source

_signer = signing.Signer(salt="communications.unsubscribe")


def unsubscribe_token(broadcast_id: int, profile_id: int) -> str:
    return _signer.sign_object([broadcast_id, profile_id])


def unsubscribe_url(broadcast_id: int, profile_id: int) -> str:
    path = reverse("communications:unsubscribe", args=[unsubscribe_token(broadcast_id, profile_id)])
    return f"{settings.PUBLIC_BASE_URL}{path}"


def flow_unsubscribe_url(key: str) -> str:
    """The link of a flow's email: the token signs the message's key (`f<flow>:<step>:<profile>`)."""
    path = reverse("communications:unsubscribe", args=[_signer.sign_object(key)])
    return f"{settings.PUBLIC_BASE_URL}{path}"


@dataclass(frozen=True)
class OptOut:
    message: Message | FlowMessage
    broadcast: Broadcast | Flow  # what sent it: its account and name (the Do Not Contact campaign)


def optout_find(*, token: str) -> OptOut | None:
    """The message a token names (None for a token that is not ours or names nothing)."""
    try:
        signed = _signer.unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if isinstance(signed, str):  # a flow's email
        message = (
            FlowMessage.objects.select_related("flow", "flow__account")
            .filter(key=signed, channel=Channel.EMAIL)
            .exclude(destination="")
            .first()
        )
        return OptOut(message, message.flow) if message else None
    try:
        broadcast_id, profile_id = signed
        message = (
            Message.objects.select_related("broadcast", "broadcast__account")
            .filter(broadcast_id=int(broadcast_id), profile_id=int(profile_id), channel=Channel.EMAIL)
            .exclude(destination="")
            .get()
        )
    except (signing.BadSignature, ValueError, TypeError, Message.DoesNotExist):
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
