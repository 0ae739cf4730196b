"""Senders (Configuration › Senders): the email From addresses and the phone channels' sender
names and numbers an account's admins keep, and the check that a broadcast uses one of them.
Kept apart from services.py (broadcasts and flows)."""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q

from audience.jobs import JobStatus
from audience.models import Account
from communications.models import Broadcast, FlowStatus, FlowStep, Sender, StepKind

# An alphanumeric sender ID: letters, digits, spaces and a few signs, 3 to 11 characters.
_ALPHANUMERIC = re.compile(r"^[A-Za-z0-9 &.\-_]{3,11}$")


def sender_address_clean(*, channel: str, address: str) -> str:
    """The address in its stored form, or ValidationError saying what is wrong with it."""
    address = address.strip()
    if not address:
        raise ValidationError({"address": "Give the sender's address, name or number."})
    if channel == "EMAIL":
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError({"address": f"“{address}” is not an email address."}) from None
        local, _, domain = address.rpartition("@")
        return f"{local}@{domain.lower()}"
    if address.startswith("+") or address.replace(" ", "").isdigit():
        try:
            number = phonenumbers.parse(address if address.startswith("+") else f"+{address}")
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_possible_number(number):
            raise ValidationError(
                {"address": f"“{address}” is not a phone number (write it as +385911234567)."}
            )
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not _ALPHANUMERIC.match(address) or address.isdigit():
        raise ValidationError(
            {"address": "A sender name has 3 to 11 letters, digits or spaces (or give a number as +385…)."}
        )
    return address


def sender_create(*, account: Account, channel: str, address: str, label: str = "") -> Sender:
    sender = Sender(
        account=account,
        channel=channel,
        address=sender_address_clean(channel=channel, address=address),
        label=label.strip(),
    )
    sender.full_clean(exclude=["account"], validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            sender.save()
    except IntegrityError:
        raise ValidationError(
            {"address": f"{sender.address} is already a {sender.get_channel_display()} sender."}
        ) from None
    return sender


def sender_users(*, sender: Sender) -> list[str]:
    """The names of the drafts, the broadcasts being sent and the active flows that use this sender."""
    broadcasts = Broadcast.objects.filter(
        Q(queued_at__isnull=True) | Q(status__in=(JobStatus.PENDING, JobStatus.RUNNING)),
        account_id=sender.account_id,
        channel=sender.channel,
        sender=sender.address,
    )
    names = list(broadcasts.order_by("name").values_list("name", flat=True)[:10])
    # And the active flows with a send step from it.
    steps = FlowStep.objects.filter(
        flow__account_id=sender.account_id,
        flow__status=FlowStatus.ACTIVE,
        kind=StepKind.SEND,
        config__channel=sender.channel,
        config__sender=sender.address,
    )
    return names + sorted(set(steps.values_list("flow__name", flat=True)))


def sender_delete(*, sender: Sender) -> None:
    """Refused, naming them, while a draft or a broadcast being sent uses the sender."""
    users = sender_users(sender=sender)
    if users:
        names = ", ".join(f"“{name}”" for name in users)
        raise ValidationError(f"{sender.address} can't be deleted: it is the sender of {names}.")
    sender.delete()


def sender_for_broadcast(*, account: Account, channel: str, address: str) -> Sender | None:
    """The account's sender of `channel` with this address; ValidationError when there is none.
    An empty address is no sender (the provider's default one)."""
    if not address.strip():
        return None
    try:
        clean = sender_address_clean(channel=channel, address=address)
    except ValidationError:
        clean = address.strip()
    sender = Sender.objects.filter(account=account, channel=channel, address=clean).first()
    if sender is None:
        raise ValidationError(
            {"sender": f"{address.strip()} is not one of this account's {_channel_label(channel)} senders."}
        )
    return sender


def _channel_label(channel: str) -> str:
    return dict(Sender._meta.get_field("channel").choices).get(channel, channel)
