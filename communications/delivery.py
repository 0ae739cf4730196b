"""What a queued message becomes when it is handed over: its content rendered for the recipient
(communications.content), and for an email its signed unsubscribe link (communications.optout)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from django.utils.html import escape, linebreaks

from audience.models import Contact, Profile
from communications import content, optout, whatsapp
from communications.backends import Outgoing
from communications.models import CHANNEL_CONTACT, Broadcast, MessageStatus
from dnc import services as dnc_services


def merge_contexts(*, account_id: int, profile_ids: list[int], contacts: bool) -> dict[int, dict]:
    """The merge-field context of each profile, in two queries (three with its contacts)."""
    rows = Profile.objects.filter(account_id=account_id, pk__any=profile_ids).values(
        "pk", *content.STANDARD_FIELDS, "attributes", "company__name"
    )
    first: dict[tuple[int, str], str] = {}
    if contacts:
        values = (
            Contact.objects.filter(profile_id__any=profile_ids)  # the profiles' account: see below
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


@dataclass(frozen=True)
class Source:
    """What a batch of messages is made from: a broadcast, or a flow's send step."""

    account_id: int
    channel: str
    sender: str
    sender_label: str
    text: str
    subject: str = ""
    html: str = ""
    # WhatsApp outside the 24-hour window (communications.whatsapp): an approved template.
    wa_template: str = ""
    wa_language: str = ""
    wa_placeholders: str = ""


def outgoing_render(
    *,
    source: Source,
    queued: list[tuple[int, str]],
    message: Callable[..., Outgoing],
    unsubscribe: Callable[[int], str] | None,
) -> list[Outgoing]:
    """The one place a batch is rendered, for broadcasts and flows alike: the templates compiled
    once, the merge contexts in two or three queries, and per message its body (an email also its
    subject, its HTML and `unsubscribe(profile_id)`, the signed link, also its `{{ unsubscribe_url }}`).
    `message(profile_id, destination, text, **fields)` makes each `Outgoing` (its key).

    WhatsApp with a template: people who have not written within 24 hours get the template, its
    placeholders rendered for them like a text (`whatsapp_templates`)."""
    if source.channel == "WHATSAPP" and source.wa_template:
        inside = whatsapp.window_open(account_id=source.account_id, numbers=[d for _, d in queued])
        outside = [(pk, d) for pk, d in queued if d not in inside]
        if outside:
            inside_queued = [(pk, d) for pk, d in queued if d in inside]
            texts = outgoing_render(
                source=replace(source, wa_template=""),
                queued=inside_queued,
                message=message,
                unsubscribe=None,
            )
            return texts + whatsapp_templates(source=source, queued=outside, message=message)
    email = source.channel == "EMAIL"
    sources = [source.text, source.subject, source.html] if email else [source.text]
    text = content.template_compile(source.text)
    subject = content.template_compile(source.subject) if email else None
    html = content.template_compile(source.html, html=True) if email and source.html else None
    contexts = merge_contexts(
        account_id=source.account_id,
        profile_ids=[pk for pk, _ in queued],
        contacts=any("email" in s or "phone" in s for s in sources),
    )
    messages = []
    for pk, destination in queued:
        context = contexts.get(pk) or content.merge_context({}, {}, "", "", "")
        extra = {}
        if subject is not None and unsubscribe is not None:  # an email
            context["unsubscribe_url"] = link = unsubscribe(pk)
            body = content.render(text, context)
            extra = {
                "subject": " ".join(content.render(subject, context).split()),
                "html": content.render(html, context) if html else linebreaks(escape(body)),
                "unsubscribe_url": link,
            }
        else:
            body = content.render(text, context)
        messages.append(message(pk, destination, body, **extra))
    return messages


def outgoing_build(*, broadcast: Broadcast, queued: list[tuple[int, str]]) -> list[Outgoing]:
    """`Outgoing` messages for (profile id, destination) pairs of `broadcast`, rendered."""
    source = Source(
        broadcast.account_id,
        broadcast.channel,
        broadcast.sender,
        broadcast.sender_label,
        broadcast.text,
        broadcast.subject,
        broadcast.html,
        broadcast.wa_template,
        broadcast.wa_language,
        broadcast.wa_placeholders,
    )
    url = optout.unsubscribe_url_maker() if broadcast.channel == "EMAIL" else None

    def message(pk: int, destination: str, body: str, **email) -> Outgoing:
        return Outgoing(
            broadcast.pk,
            pk,
            broadcast.channel,
            broadcast.sender,
            destination,
            body,
            sender_label=broadcast.sender_label,
            account_id=broadcast.account_id,
            **email,
        )

    return outgoing_render(
        source=source,
        queued=queued,
        message=message,
        unsubscribe=(lambda pk: url(broadcast.pk, pk)) if url else None,
    )


def whatsapp_templates(
    *, source: Source, queued: list[tuple[int, str]], message: Callable[..., Outgoing]
) -> list[Outgoing]:
    """`source`'s WhatsApp template for people outside the 24-hour window: each placeholder is a
    merge-field template rendered for the person; the message's text says what went, in words."""
    lines = [content.template_compile(line) for line in whatsapp.placeholder_lines(source.wa_placeholders)]
    contexts = merge_contexts(
        account_id=source.account_id,
        profile_ids=[pk for pk, _ in queued],
        contacts="email" in source.wa_placeholders or "phone" in source.wa_placeholders,
    )
    summary = f"WhatsApp template {source.wa_template} ({source.wa_language})"
    messages = []
    for pk, destination in queued:
        context = contexts.get(pk) or content.merge_context({}, {}, "", "", "")
        values = tuple(" ".join(content.render(line, context).split()) for line in lines)
        text = summary + (": " + " | ".join(values) if values else "")
        messages.append(
            message(
                pk,
                destination,
                text,
                template=source.wa_template,
                language=source.wa_language,
                placeholders=values,
            )
        )
    return messages


def window_skip(
    *, account_id: int, channel: str, template: str, resolved: dict[int, tuple[str, str]]
) -> dict[int, tuple[str, str]]:
    """`resolved` with WhatsApp's 24-hour window applied: without a template, people queued for
    free-form WhatsApp text who have not written within 24 hours become `outside_window`."""
    if channel != "WHATSAPP" or template:
        return resolved
    inside = whatsapp.window_open(
        account_id=account_id,
        numbers=[d for status, d in resolved.values() if status == MessageStatus.QUEUED],
    )
    return {
        pk: (MessageStatus.OUTSIDE_WINDOW, d)
        if status == MessageStatus.QUEUED and d not in inside
        else (status, d)
        for pk, (status, d) in resolved.items()
    }


def recipients_resolve(
    *, account, channel: str, sender: str, profile_ids: list[int]
) -> dict[int, tuple[str, str]]:
    """(status, destination) of each profile for a message on `channel` from `sender`, the one
    rule broadcasts and flow sends share. Do Not Contact is kept per destination: a person is
    reached on the first of their contacts for the channel that is not blocked (`queued`), is
    `blocked_dnc` when all of them are, and `no_destination` without one."""
    found: dict[int, list[str]] = {}
    # By profile alone: the database refuses a contact whose account is not its profile's
    # (audience.summary), and (profile, kind) is the index this reads. With the account in the
    # condition too, a planner whose statistics lag an import chose the account's (account, kind)
    # index and filtered all its contacts for each chunk: a send that slowed as it went.
    for profile_id, value in (
        Contact.objects.filter(profile_id__any=profile_ids, kind=CHANNEL_CONTACT[channel])
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
