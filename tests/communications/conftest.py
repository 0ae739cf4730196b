"""Fixtures of the communications tests: profiles with contacts, the in-memory channel backend,
and helpers to add Do Not Contact entries through the dnc services."""

from __future__ import annotations

import pytest
from django.test import TestCase

from audience.models import Contact, Profile
from communications import services
from communications.backends import MemoryBackend
from communications.models import Broadcast, MessageStatus
from dnc import services as dnc_services
from dnc.models import Source


@pytest.fixture(autouse=True)
def memory_backend(settings):
    settings.COMMUNICATIONS_BACKEND = "communications.backends.MemoryBackend"
    MemoryBackend.reset()
    yield MemoryBackend
    MemoryBackend.reset()


def make_profile(account, name="Ana", phones=(), emails=(), **fields) -> Profile:
    profile = Profile.objects.create(account=account, first_name=name, **fields)
    Contact.objects.bulk_create(
        [Contact(account=account, profile=profile, kind="phone", value=p) for p in phones]
        + [Contact(account=account, profile=profile, kind="email", value=e) for e in emails]
    )
    return profile


def block(accounts, contact, channel="", sender=""):
    report = dnc_services.dnc_entries_add(
        accounts=accounts,
        entries=[{"contact": contact, "channel": channel, "sender": sender}],
        source=Source.CUSTOM,
    )
    assert not report.rejected, report.rejected


def whatsapp_wrote(account, *profiles) -> None:
    """Each profile's phones wrote to the account on WhatsApp just now: free-form WhatsApp text
    may reach them (the 24-hour window, communications.whatsapp)."""
    from communications.models import InboundMessage

    numbers = Contact.objects.filter(profile__in=profiles, kind="phone").values_list("value", flat=True)
    InboundMessage.objects.bulk_create(
        [
            InboundMessage(account=account, channel="WHATSAPP", message_id=f"wa-{n}", number=n, word="other")
            for n in numbers
        ]
    )


def sender_for(account, channel: str, address: str):
    """The account's sender of `channel` with this address (created when missing)."""
    from communications import senders
    from communications.models import Sender

    clean = senders.sender_address_clean(channel=channel, address=address)
    found = Sender.objects.filter(account=account, channel=channel, address=clean).first()
    return found or senders.sender_create(account=account, channel=channel, address=address)


def broadcast_for(account, profiles, channel="SMS", sender="", user=None, **content) -> Broadcast:
    from audience.selection import Selection

    if sender:
        sender_for(account, channel, sender)
    if channel == "EMAIL":
        content.setdefault("subject", "Spring sale")
    content.setdefault("text", "20% off everything")
    return services.broadcast_create(
        account=account,
        user=user,
        name="Spring sale",
        channel=channel,
        sender=sender,
        audience=services.AudienceSpec(selections=[Selection(ids=[p.pk for p in profiles])]),
        **content,
    )


def send(broadcast, user=None) -> Broadcast:
    with TestCase.captureOnCommitCallbacks(execute=True):  # the task is queued on commit
        services.broadcast_send(broadcast=broadcast, user=user)
    broadcast.refresh_from_db()
    return broadcast


def assert_adds_up(broadcast: Broadcast) -> None:
    assert (
        broadcast.total
        == broadcast.sent
        + broadcast.blocked_dnc
        + broadcast.no_destination
        + broadcast.failed
        + broadcast.outside_window
    )
    assert broadcast.messages.count() == broadcast.total
    assert not broadcast.messages.filter(status=MessageStatus.QUEUED).exists()
