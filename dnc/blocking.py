"""The enforcement check that every sender of messages asks: `dnc_is_blocked` (one destination)
and `dnc_blocked_destinations` (a batch of any size). `dnc.services` names both too.

An entry blocks a destination in an account when it applies to that account, its contact is the
destination (or the destination's email domain), its channel is blank or the channel sent on, and
its sender is blank or the sender sent from. A check with a blank sender is matched only by entries
without a sender.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain, islice

from django.db import connection
from django.db.models import Q

from audience.models import Account
from dnc import postgres
from dnc.destinations import destination_normalize, destinations_normalize_fast, sender_normalize
from dnc.models import Channel, DncEntryAccount, Kind

SMALL_CHECK = 2_000  # up to this many destinations, one indexed query
CHANNELS = frozenset(Channel.values)  # `Channel.values` builds its list again on every use


def _channel_check(channel: str) -> str:
    value = str(channel or "").strip().upper()
    if value not in CHANNELS:
        raise ValueError(f"{channel!r} is not a channel: use one of {', '.join(Channel.values)}.")
    return value


def dnc_is_blocked(*, account: Account, channel: str, sender: str, destination: str) -> bool:
    """Is `destination` on the Do Not Contact list of `account` for this channel and sender?"""
    channel = _channel_check(channel)
    value = destination_normalize(destination)
    if value is None:
        return False
    match = Q(value=value)
    if "@" in value:
        match |= Q(kind=Kind.DOMAIN, value=value.rsplit("@", 1)[1])
    return (
        DncEntryAccount.objects.filter(match, account=account)
        .filter(channel__in=("", channel), sender__in=("", sender_normalize(sender)))
        .exists()
    )


def dnc_blocked_destinations(
    *, account: Account, channel: str, sender: str, destinations: Iterable[str]
) -> set[str]:
    """The destinations (normalised) that are blocked. Destinations that are not valid are never
    returned. Up to 2,000 destinations take one indexed query; more take, on PostgreSQL, one
    COPY into a temporary table and one hash join (1,000,000 against 1,000,000 entries in
    about 2 s, see docs/dnc.md), elsewhere one query per 900."""
    channel = _channel_check(channel)
    sender = sender_normalize(sender)
    domains = set(
        DncEntryAccount.objects.filter(
            account=account, kind=Kind.DOMAIN, channel__in=("", channel), sender__in=("", sender)
        ).values_list("value", flat=True)
    )
    blocked: set[str] = set()

    def exact(values: Iterator[str]) -> Iterator[str]:
        for value in values:
            if "@" in value and value.rsplit("@", 1)[1] in domains:
                blocked.add(value)
            else:
                yield value

    values = destinations_normalize_fast(destinations)
    if domains:
        values = exact(values)
    first = list(islice(values, SMALL_CHECK))
    if len(first) < SMALL_CHECK:
        blocked.update(_blocked_values(account.pk, channel, sender, first))
    elif connection.vendor == "postgresql":
        blocked.update(postgres.blocked_values_copy(account.pk, channel, sender, chain(first, values)))
    else:
        for batch in chain([first], iter(lambda: list(islice(values, SMALL_CHECK)), [])):
            blocked.update(_blocked_values(account.pk, channel, sender, batch))
    return blocked


def _blocked_values(account_id: int, channel: str, sender: str, values: list[str]) -> list[str]:
    if not values:
        return []
    if connection.vendor == "postgresql":
        return postgres.blocked_values(account_id, channel, sender, values)
    return _blocked_values_generic(account_id, channel, sender, values)


def _blocked_values_generic(account_id: int, channel: str, sender: str, values: list[str]) -> list[str]:
    found: list[str] = []
    for start in range(0, len(values), 900):  # SQLite's limit of bound parameters
        found.extend(
            DncEntryAccount.objects.filter(
                account_id=account_id,
                value__in=values[start : start + 900],
                channel__in=("", channel),
                sender__in=("", sender),
            ).values_list("value", flat=True)
        )
    return found
