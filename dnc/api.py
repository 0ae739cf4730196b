"""Do Not Contact API: `/platform/1/blocklists` (Infobip's Blocklist API shapes) and a batch check."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Router, Schema

from audience import api_auth
from audience.api_errors import ApiError
from audience.api_schema import ApiIn, ApiOut, DateTime, PagingOut, absent, limit_query, page_query
from dnc import services
from dnc.destinations import destination_normalize, destination_parse, sender_normalize
from dnc.models import Channel, DncEntryAccount, How, Source

router = Router(tags=["Do Not Contact (blocklist)"])
# Filters name a channel or source as Infobip writes them, in either case; the document lists them.
ChannelName = Literal[tuple(Channel.values + [v.lower() for v in Channel.values])]
SourceName = Literal[tuple(Source.values + [v.lower() for v in Source.values])]
ADD_LIMIT = 50_000
CHECK_LIMIT = 100_000


class Destination(ApiIn):
    to: str = Field(..., min_length=1, max_length=255)


class BlocklistItem(ApiIn):
    destinations: list[Destination] = Field(..., min_length=1)
    sender: str = Field("", max_length=100)
    channel: str = ""
    accountKey: str | None = None
    campaign: str = Field("", max_length=255)


class BlocklistIn(ApiIn):
    blocklist: list[BlocklistItem] = Field(..., min_length=1)


class CheckIn(Schema):
    destinations: list[str]
    channel: str
    sender: str = ""


class EntryOut(ApiOut):
    destination: str = Field(description="E.164 phone with +, lower-case email, or email domain")
    sender: str = Field(description="empty: every sender")
    channel: Literal[tuple(Channel.values)] | None = Field(description="null: every channel")  # type: ignore[valid-type]
    sourceType: Literal[tuple(Source.values)]  # type: ignore[valid-type]
    accountKey: str
    createdDate: DateTime
    campaign: str = absent("when the entry came from a campaign")


class EntriesPage(ApiOut):
    results: list[EntryOut]
    paging: PagingOut


class RejectedOut(ApiOut):
    blocklist: int = Field(description="the index of the item in `blocklist`")
    to: str
    reason: str


class AddReport(ApiOut):
    created: int
    merged: int
    unchanged: int
    rejected: list[RejectedOut]


class Removed(ApiOut):
    removed: int


class CheckResult(ApiOut):
    to: str = Field(description="as sent")
    destination: str | None = Field(description="normalised; null when not a valid destination")
    valid: bool
    blocked: bool
    reason: str = absent("why it is not valid")


class CheckOut(ApiOut):
    results: list[CheckResult]


def _other_account(request: HttpRequest, key: str | None) -> bool:
    return key not in (None, "", request.auth.account.name, str(request.auth.account.pk))


def _out(row: DncEntryAccount) -> dict:
    body = {
        "destination": row.value,
        "sender": row.sender,
        "channel": row.channel or None,
        "sourceType": row.source,
        "accountKey": str(row.account_id),
        "createdDate": row.added_at.isoformat().replace("+00:00", "Z"),
    }
    if row.campaign:
        body["campaign"] = row.campaign
    return body


def _instant(name: str, when: dt.datetime) -> dt.datetime:
    """`when` in UTC (naive = UTC): ISO 8601 allows offsets PostgreSQL refuses (+16:32)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    try:
        return when.astimezone(dt.UTC)
    except OverflowError:
        raise ApiError(400, "Bad request", {name: ["out of range"]}) from None


@router.get(
    "", summary="List Do Not Contact entries (page is 0-based)", response=EntriesPage, exclude_unset=True
)
def blocklist_list(
    request: HttpRequest,
    sender: str | None = None,
    destination: str | None = None,
    channel: ChannelName | None = None,
    sourceType: SourceName | None = None,
    campaign: str | None = None,
    createdDateFrom: dt.datetime | None = None,
    createdDateTo: dt.datetime | None = None,
    page: int = page_query(0, first=0),
    size: int = limit_query(100),
):
    rows = DncEntryAccount.objects.filter(account=request.auth.account)
    if sender is not None:
        rows = rows.filter(sender=sender_normalize(sender))
    if destination:
        rows = rows.filter(value=destination_normalize(destination) or destination.strip().lower())
    if channel:
        rows = rows.filter(channel=channel.upper())
    if sourceType:
        rows = rows.filter(source=sourceType.upper())
    if campaign:
        rows = rows.filter(campaign=campaign)
    for name, when, lookup in (
        ("createdDateFrom", createdDateFrom, "gte"),
        ("createdDateTo", createdDateTo, "lte"),
    ):
        if when is not None:
            rows = rows.filter(**{f"added_at__{lookup}": _instant(name, when)})
    rows = rows.order_by("-added_at", "-id")
    total = rows.count()
    return {
        "results": [_out(r) for r in rows[page * size : (page + 1) * size]],
        "paging": {
            "page": page,
            "size": size,
            "totalPages": (total + size - 1) // size,
            "totalResults": total,
        },
    }


@router.post("", summary="Add destinations (at most 50,000 a request)", response={202: AddReport})
def blocklist_add(request: HttpRequest, payload: BlocklistIn):
    errors: dict[str, list[str]] = {}
    total = sum(len(item.destinations) for item in payload.blocklist)
    if total == 0:
        errors["blocklist"] = ["add at least one destination"]
    if total > ADD_LIMIT:
        errors["blocklist"] = [f"at most {ADD_LIMIT} destinations a request"]
    for i, item in enumerate(payload.blocklist):
        if _other_account(request, item.accountKey):
            errors[f"blocklist[{i}].accountKey"] = ["a key acts on its own account only"]
        if item.channel and item.channel.upper() not in Channel.values:
            errors[f"blocklist[{i}].channel"] = ["unsupported channel"]
    if errors:
        raise ApiError(400, "Bad request", errors)
    created = merged = unchanged = 0
    rejected = []
    for i, item in enumerate(payload.blocklist):
        report = services.dnc_entries_add(
            accounts=[request.auth.account],
            entries=(
                {"contact": d.to, "sender": item.sender, "channel": item.channel} for d in item.destinations
            ),
            source=Source.API,
            campaign=item.campaign,
            how=How.API,
        )
        created, merged, unchanged = (
            created + report.created,
            merged + report.merged,
            report.unchanged + unchanged,
        )
        rejected += [{"blocklist": i, "to": r.contact, "reason": r.reason} for r in report.rejected]
    return 202, {"created": created, "merged": merged, "unchanged": unchanged, "rejected": rejected}


@router.delete("", summary="Remove a destination (repeat its sender and channel)", response={202: Removed})
def blocklist_remove(request: HttpRequest, destination: str, sender: str = "", channel: str = ""):
    try:
        key = services.dnc_entry_parse(contact=destination, sender=sender, channel=channel)
    except ValidationError as error:
        raise ApiError(400, "Bad request", error.message_dict) from None
    row = (
        DncEntryAccount.objects.filter(
            account=request.auth.account, value=key.value, sender=key.sender, channel=key.channel
        )
        .select_related("entry")
        .first()
    )
    if row is None:
        raise ApiError(404, "No entry with this destination, sender and channel.")
    api_auth.row_found(request)
    services.dnc_entry_remove(entry=row.entry, account=request.auth.account, removed_by=None, how=How.API)
    return 202, {"removed": 1}


@router.post(
    "/check",
    summary="Which of these destinations are blocked for a channel and sender",
    response=CheckOut,
    exclude_unset=True,
)
def blocklist_check(request: HttpRequest, payload: CheckIn):
    if len(payload.destinations) > CHECK_LIMIT:
        raise ApiError(400, "Bad request", {"destinations": [f"at most {CHECK_LIMIT} a request"]})
    try:
        blocked = services.dnc_blocked_destinations(
            account=request.auth.account,
            channel=payload.channel,
            sender=payload.sender,
            destinations=payload.destinations,
        )
    except ValueError as error:
        raise ApiError(400, "Bad request", {"channel": [str(error)]}) from None
    results = []
    for to in payload.destinations:
        # The validation of adding (a number adding refuses is not "valid" here), with its reason.
        normalized, reason = destination_parse(to)
        result = {"to": to, "destination": normalized, "valid": normalized is not None}
        result["blocked"] = normalized is not None and normalized in blocked
        if reason:
            result["reason"] = reason
        results.append(result)
    return {"results": results}
