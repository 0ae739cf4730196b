"""What a queued message becomes when it is handed over: its content rendered for the recipient
(communications.content), and for an email its signed unsubscribe link (communications.optout)."""

from __future__ import annotations

from django.utils.html import escape, linebreaks

from audience.models import Contact, Profile
from communications import content, optout
from communications.backends import Outgoing
from communications.models import CHANNEL_CONTACT, Broadcast, MessageStatus
from dnc import services as dnc_services


def merge_contexts(*, account_id: int, profile_ids: list[int], contacts: bool) -> dict[int, dict]:
    """The merge-field context of each profile, in two queries (three with its contacts)."""
    rows = Profile.objects.filter(account_id=account_id, pk__in=profile_ids).values(
        "pk", *content.STANDARD_FIELDS, "attributes", "company__name"
    )
    first: dict[tuple[int, str], str] = {}
    if contacts:
        values = (
            Contact.objects.filter(account_id=account_id, profile_id__in=profile_ids)
            .order_by("-id")
            .values_list("profile_id", "kind", "value")
        )
        first = {(pk, kind): value for pk, kind, value in values}  # oldest wins: it comes last
    return {
        row["pk"]: content.merge_context(
            row,
            row["attributes"],
            row["company__name"],
            first.get((row["pk"], "email"), ""),
            first.get((row["pk"], "phone"), ""),
        )
        for row in rows
    }


def outgoing_build(*, broadcast: Broadcast, queued: list[tuple[int, str]]) -> list[Outgoing]:
    """`Outgoing` messages for (profile id, destination) pairs of `broadcast`, rendered."""
    email = broadcast.channel == "EMAIL"
    sources = [broadcast.text, broadcast.subject, broadcast.html] if email else [broadcast.text]
    text = content.template_compile(broadcast.text)
    subject = content.template_compile(broadcast.subject) if email else None
    html = content.template_compile(broadcast.html, html=True) if email and broadcast.html else None
    contexts = merge_contexts(
        account_id=broadcast.account_id,
        profile_ids=[pk for pk, _ in queued],
        contacts=any("email" in s or "phone" in s for s in sources),
    )
    unsubscribe_url = optout.unsubscribe_url_maker() if email else None
    messages = []
    for pk, destination in queued:
        context = contexts.get(pk) or content.merge_context({}, {}, "", "", "")
        body = content.render(text, context)
        extra = {}
        if subject is not None and unsubscribe_url is not None:  # an email
            extra = {
                "subject": " ".join(content.render(subject, context).split()),
                "html": content.render(html, context) if html else linebreaks(escape(body)),
                "unsubscribe_url": unsubscribe_url(broadcast.pk, pk),
            }
        messages.append(
            Outgoing(
                broadcast.pk,
                pk,
                broadcast.channel,
                broadcast.sender,
                destination,
                body,
                sender_label=broadcast.sender_label,
                account_id=broadcast.account_id,
                **extra,
            )
        )
    return messages


def recipients_resolve(
    *, account, channel: str, sender: str, profile_ids: list[int]
) -> dict[int, tuple[str, str]]:
    """(status, destination) of each profile for a message on `channel` from `sender`, the one
    rule broadcasts and flow sends share. Do Not Contact is kept per destination: a person is
    reached on the first of their contacts for the channel that is not blocked (`queued`), is
    `blocked_dnc` when all of them are, and `no_destination` without one."""
    found: dict[int, list[str]] = {}
    for profile_id, value in (
        Contact.objects.filter(account=account, profile_id__in=profile_ids, kind=CHANNEL_CONTACT[channel])
        .order_by("profile_id", "id")
        .values_list("profile_id", "value")
    ):
        found.setdefault(profile_id, []).append(value)
    blocked = dnc_services.dnc_blocked_destinations(
        account=account,
        channel=channel,
        sender=sender,
        destinations=[value for values in found.values() for value in values],
    )
    resolved: dict[int, tuple[str, str]] = {}
    for pk in profile_ids:
        values = found.get(pk, [])
        allowed = [value for value in values if value not in blocked]
        if not values:
            resolved[pk] = (MessageStatus.NO_DESTINATION, "")
        elif not allowed:
            resolved[pk] = (MessageStatus.BLOCKED_DNC, values[0])
        else:
            resolved[pk] = (MessageStatus.QUEUED, allowed[0])
    return resolved
