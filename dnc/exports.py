"""The Do Not Contact CSV: the rows the screen shows, neutralised for spreadsheets."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils import timezone

from dnc import selectors

HEADER = [
    "Contact information",
    "Type",
    "Sender",
    "Channel",
    "Source",
    "Accounts",
    "Added",
    "Added by",
    "Campaign",
]
CHUNK = 2000


def csv_safe(value: str) -> str:
    """Spreadsheets run a cell that starts with = + - @ (or a tab/CR) as a formula: quote it."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def entries_csv(queryset: QuerySet, *, account_ids: list[int]) -> Iterator[str]:
    """CSV lines of these entries (`DncEntryAccount` rows), read in keyset chunks of 2,000; the
    Accounts column names only `account_ids` (the reader's accounts)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(HEADER)
    last = 0
    while True:
        rows = list(queryset.filter(pk__gt=last).select_related("added_by").order_by("pk")[:CHUNK])
        if not rows:
            return
        last = rows[-1].pk
        accounts = selectors.entry_accounts(entry_ids=[r.entry_id for r in rows], account_ids=account_ids)
        for row in rows:
            values = [
                row.value,
                row.get_kind_display(),
                row.sender,
                row.channel or "Every channel",
                row.get_source_display(),
                "; ".join(a.name for a in accounts.get(row.entry_id, [])),
                timezone.localtime(row.added_at).isoformat(timespec="seconds"),
                row.added_by.get_username() if row.added_by else "",
                row.campaign,
            ]
            yield writer.writerow([csv_safe(v) for v in values])
