"""Reads of communications: who is in an audience, what a profile received, what uses a tag or a
segment ("Currently used").

An audience's profiles always come from the other apps' own querysets: People selections from
`audience.selection.selection_queryset`, segments from the segments engine, tags from their
profile links, companies from the profile's company. Never a second copy of those queries.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db.models import Q, QuerySet

from audience.counting import count_cached
from audience.models import Account, Company, ContactKind, Profile
from audience.selection import Selection, selection_queryset
from communications.models import (
    AudienceItem,
    Broadcast,
    Flow,
    FlowStatus,
    InboundMessage,
    InboundSettings,
    ItemKind,
    Message,
    WebhookBatch,
)
from dnc.models import DncAudit

PAGE_SIZE = 50


# --- Audiences -----------------------------------------------------------------------------------


def _tag_profiles(account: Account, tag_ids: list[int | None]) -> QuerySet:
    """The profiles having any of these tags (an item's id may be null: it matches none)."""
    from tags import selectors as tag_selectors

    ids = [pk for pk in tag_ids if pk is not None]
    links = tag_selectors.profile_tag_links(account=account, tag_ids=ids).values("profile_id")
    return Profile.objects.for_account(account).filter(pk__in=links)


def segment_profiles(account: Account, segment_id: int | None) -> QuerySet:
    """The profiles of a saved segment, through the segments app's own selector."""
    from segments import selectors as segment_selectors

    Segment = apps.get_model("segments", "Segment")
    try:
        segment = Segment.objects.get(account=account, pk=segment_id)
    except Segment.DoesNotExist:
        return Profile.objects.none()
    return segment_selectors.segment_profiles(segment=segment)


def _item_queryset(account: Account, item: AudienceItem) -> QuerySet:
    if item.kind == ItemKind.TAG:
        return _tag_profiles(account, [item.object_id])
    if item.kind == ItemKind.SEGMENT:
        return segment_profiles(account, item.object_id)
    if item.kind == ItemKind.COMPANY:
        return Profile.objects.for_account(account).filter(company_id=item.object_id)
    return selection_queryset(account=account, selection=Selection.from_json(item.selection or {}))


def audience_queryset(*, account: Account, items: list[AudienceItem]) -> QuerySet:
    """The account's profiles in any of `items` (an empty audience has no profiles)."""
    items = list(items)
    if not items:
        return Profile.objects.none()
    if len(items) == 1:
        return _item_queryset(account, items[0])
    condition = Q()
    tag_ids = [item.object_id for item in items if item.kind == ItemKind.TAG]
    if tag_ids:  # one semi-join for all the tags
        condition |= Q(pk__in=_tag_profiles(account, tag_ids).values("pk"))
    for item in items:
        if item.kind != ItemKind.TAG:
            condition |= Q(pk__in=_item_queryset(account, item).values("pk"))
    return Profile.objects.for_account(account).filter(condition)


def broadcast_recipients(*, broadcast: Broadcast) -> QuerySet:
    return audience_queryset(account=broadcast.account, items=list(broadcast.items.all()))


def flow_audience(*, flow: Flow) -> QuerySet:
    return audience_queryset(account=flow.account, items=list(flow.items.all()))


def audience_count(*, account: Account, items: list[AudienceItem], key: tuple) -> int | None:
    """The audience's size, or None while the database is still counting (see audience.counting)."""
    return count_cached(
        audience_queryset(account=account, items=items), account_id=account.pk, key=("communications", *key)
    )


@dataclass
class ItemLabel:
    kind: str
    label: str
    url: str = ""


def _describe_selection(data: dict | None) -> str:
    selection = Selection.from_json(data or {})
    if selection.ids is not None:
        count = len(selection.ids)
        return f"{count} selected profile{'s' if count != 1 else ''}"
    parts = [
        f"{key}: {', '.join(values)}" for key, values in sorted(selection.filters.items()) if any(values)
    ]
    if selection.rule:
        parts.append("an advanced filter")
    return "All profiles matching " + ("; ".join(parts) if parts else "no filter (everyone)")


def items_describe(*, account: Account, items: list[AudienceItem]) -> list[ItemLabel]:
    """Human labels for audience items, with the names of their tags, segments and companies."""
    ids: dict[str, list[int]] = {}
    for item in items:
        if item.object_id is not None:
            ids.setdefault(item.kind, []).append(item.object_id)
    names: dict[tuple[str, int | None], str] = {}
    if ids.get(ItemKind.TAG):
        Tag = apps.get_model("tags", "Tag")
        for pk, name in Tag.objects.filter(account=account, pk__in=ids[ItemKind.TAG]).values_list(
            "pk", "name"
        ):
            names[(ItemKind.TAG, pk)] = name
    if ids.get(ItemKind.SEGMENT) and apps.is_installed("segments"):
        try:
            Segment = apps.get_model("segments", "Segment")
        except LookupError:
            Segment = None
        if Segment is not None:
            rows = Segment.objects.filter(account=account, pk__in=ids[ItemKind.SEGMENT]).values_list(
                "pk", "name"
            )
            for pk, name in rows:
                names[(ItemKind.SEGMENT, pk)] = name
    if ids.get(ItemKind.COMPANY):
        rows = (
            Company.objects.for_account(account)
            .filter(pk__in=ids[ItemKind.COMPANY])
            .values_list("pk", "name")
        )
        for pk, name in rows:
            names[(ItemKind.COMPANY, pk)] = name
    labels = []
    for item in items:
        if item.kind == ItemKind.SELECTION:
            labels.append(ItemLabel("People", _describe_selection(item.selection)))
            continue
        name = names.get((item.kind, item.object_id))
        labels.append(
            ItemLabel(ItemKind(item.kind).label, name or f"(deleted {item.get_kind_display().lower()})")
        )
    return labels


# --- Lists and pages -----------------------------------------------------------------------------


def broadcasts_page(*, account: Account, before: str | None = None) -> tuple[list[Broadcast], int | None]:
    """Newest first, keyset-paged by id; (rows, id to continue before or None)."""
    queryset = Broadcast.objects.for_account(account).order_by("-id")
    if before and str(before).isdigit():
        queryset = queryset.filter(pk__lt=int(before))
    rows = list(queryset[: PAGE_SIZE + 1])
    older = rows[PAGE_SIZE - 1].pk if len(rows) > PAGE_SIZE else None
    return rows[:PAGE_SIZE], older


def flows_list(*, account: Account, status: str | None = None) -> QuerySet:
    queryset = Flow.objects.for_account(account)
    if status:
        queryset = queryset.filter(status=status)
    return queryset.order_by("-id")


def flows_active(*, account: Account) -> QuerySet:
    return flows_list(account=account, status=FlowStatus.ACTIVE)


def profile_messages(*, profile: Profile, limit: int = PAGE_SIZE) -> list[Message]:
    return list(
        Message.objects.filter(account_id=profile.account_id, profile=profile)
        .select_related("broadcast")
        .order_by("-created_at", "-id")[:limit]
    )


# --- "Currently used" ----------------------------------------------------------------------------


def communications_using(*, account: Account, kind: str, object_id: int) -> list[str]:
    """The active flows, and the broadcasts queued or sending, whose audience names this tag or
    segment: what must not change under them."""
    items = AudienceItem.objects.filter(account=account, kind=kind, object_id=object_id)
    flows = Flow.objects.filter(pk__in=items.values("flow_id"), status=FlowStatus.ACTIVE).order_by("name")
    broadcasts = Broadcast.objects.filter(
        pk__in=items.values("broadcast_id"), queued_at__isnull=False, status__in=("pending", "running")
    ).order_by("name")
    from audience.usage import Usage  # a name that links to its communication

    found: list[str] = [Usage(f"Flow “{flow.name}” (active)", flow.get_absolute_url()) for flow in flows]
    found += [Usage(f"Broadcast “{b.name}” (sending)", b.get_absolute_url()) for b in broadcasts]
    return found


# --- Coming back: webhooks, inbound messages, opt-outs -------------------------------------------


def inbound_settings(*, account: Account) -> InboundSettings | None:
    return InboundSettings.objects.filter(account=account).first()


def inbound_messages_recent(*, account: Account, limit: int = 20) -> list[InboundMessage]:
    return list(InboundMessage.objects.filter(account=account).order_by("-received_at", "-id")[:limit])


def webhook_batches_recent(*, account: Account, limit: int = 10) -> list[WebhookBatch]:
    return list(
        WebhookBatch.objects.for_account(account).defer("payload").order_by("-created_at", "-id")[:limit]
    )


def profile_opt_outs(*, profile: Profile, limit: int = PAGE_SIZE) -> list[DncAudit]:
    """For the profile card: each time one of the profile's contacts (or an email's domain) was
    put on or taken off Do Not Contact in its account — how (source, campaign), when and by
    whom — newest first, from the audit trail, which keeps it after an entry is removed."""
    contacts = list(profile.contacts.values_list("kind", "value"))
    values = {value for _, value in contacts}
    values |= {
        value.rsplit("@", 1)[1] for kind, value in contacts if kind == ContactKind.EMAIL and "@" in value
    }
    if not values:
        return []
    return list(
        DncAudit.objects.filter(account_id=profile.account_id, value__in=sorted(values)).order_by(
            "-at", "-id"
        )[:limit]
    )


# --- Sending -------------------------------------------------------------------------------------


def audience_first(*, account: Account, items: list[AudienceItem]) -> Profile | None:
    """The audience's first profile (by id): the one the broadcast form previews for."""
    if not items:
        return None
    return audience_queryset(account=account, items=items).order_by("pk").first()


def outbox_page(*, account: Account, before: str | None = None) -> tuple[list, int | None]:
    """The sandbox outbox, newest first, keyset-paged by id."""
    from communications.models import OutboxMessage

    queryset = OutboxMessage.objects.for_account(account).select_related("broadcast").order_by("-id")
    if before and str(before).isdigit():
        queryset = queryset.filter(pk__lt=int(before))
    rows = list(queryset[: PAGE_SIZE + 1])
    older = rows[PAGE_SIZE - 1].pk if len(rows) > PAGE_SIZE else None
    return rows[:PAGE_SIZE], older


def broadcast_outcomes(*, broadcast: Broadcast) -> dict[str, int]:
    """What the counters on the broadcast row do not hold: messages delivered (delivery reports
    move them there) and recipients whose destination was put on Do Not Contact since the send."""
    from dnc.models import DncEntryAccount

    if broadcast.is_draft:
        return {"delivered": 0, "opted_out": 0}
    messages = Message.objects.filter(broadcast=broadcast)
    delivered = messages.filter(status="delivered").count()
    opted_out = (
        DncEntryAccount.objects.filter(
            account_id=broadcast.account_id,
            added_at__gte=broadcast.queued_at,
            value__in=messages.exclude(destination="").values("destination"),
        )
        .values("value")
        .distinct()
        .count()
    )
    return {"delivered": delivered, "opted_out": opted_out}


SKIPPED_PAGE = 20


def broadcast_skipped(
    *, broadcast: Broadcast, status: str, after: int | None = None, before: int | None = None
) -> tuple[list, int | None, int | None]:
    """One page of the recipients a broadcast did not send to for `status` (blocked by Do Not
    Contact, or without a destination), oldest first, with their profiles: the first page, the
    one after the cursor `after`, or the one before the cursor `before`. Returns the page, the
    cursor of the next page (`after`; None on the last) and of the previous one (`before`; None
    on the first). Served by the (broadcast, profile) unique index."""
    rows = Message.objects.filter(broadcast=broadcast, status=status).select_related("profile")
    if before:
        page = list(rows.filter(id__lt=before).order_by("-id")[: SKIPPED_PAGE + 1])
        earlier = len(page) > SKIPPED_PAGE
        page = page[:SKIPPED_PAGE][::-1]
        # Reached from a later page, so one follows: that page starts at the cursor.
        return page, (page[-1].pk if page else None), (page[0].pk if earlier else None)
    if after:
        rows = rows.filter(id__gt=after)
    page = list(rows.order_by("id")[: SKIPPED_PAGE + 1])
    more = len(page) > SKIPPED_PAGE
    page = page[:SKIPPED_PAGE]
    # A page after a cursor has one before it: the page that ends at the cursor.
    return page, (page[-1].pk if more else None), (page[0].pk if after and page else None)
