"""The Do Not Contact export: one set of columns and values for the screen's CSV and for the
export jobs (`imports.exports`, CSV and .xlsx), neutralised for spreadsheets as
`audience.spreadsheets` defines. The first four columns are what the Do Not Contact import reads
back (`Contact information`, `Sender`, `Channel`; "Every channel" is an empty channel)."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils import timezone

from audience.spreadsheets import cell_safe
from dnc import selectors

HEADER = (
    "Contact information",
    "Type",
    "Sender",
    "Channel",
    "Source",
    "Accounts",
    "Added",
    "Added by",
    "Campaign",
)
EVERY_CHANNEL = "Every channel"
CHUNK = 2000


class _Echo:
    def write(self, value: str) -> str:
        return value


def entries_rows(queryset: QuerySet, *, account_ids: list[int], zone: dt.tzinfo) -> Iterator[list[list[str]]]:
    """Batches of rows (lists of `HEADER`'s values, not neutralised; Added a datetime in `zone`,
    the account's time zone, whole seconds) of these entries
    (`DncEntryAccount` rows), read in keyset chunks of 2,000; the Accounts column names only
    `account_ids` (the reader's accounts)."""
    last = 0
    while True:
        rows = list(queryset.filter(pk__gt=last).select_related("added_by").order_by("pk")[:CHUNK])
        if not rows:
            return
        last = rows[-1].pk
        accounts = selectors.entry_accounts(entry_ids=[r.entry_id for r in rows], account_ids=account_ids)
        yield [
            [
                row.value,
                row.get_kind_display(),
                row.sender,
                row.channel or EVERY_CHANNEL,
                row.get_source_display(),
                "; ".join(a.name for a in accounts.get(row.entry_id, [])),
                timezone.localtime(row.added_at, zone).replace(microsecond=0),
                row.added_by.get_username() if row.added_by else "",
                row.campaign,
            ]
            for row in rows
        ]


def entries_csv(queryset: QuerySet, *, account_ids: list[int], zone: dt.tzinfo) -> Iterator[str]:
    """CSV lines of these entries, header first, every cell neutralised; Added in ISO 8601 with
    the offset of `zone` (the account's time zone): 2026-12-03T16:26:00+01:00. The zone is
    given, not read when a line is made: a streamed answer is read after the request's own time
    zone is no longer active."""
    writer = csv.writer(_Echo())
    yield writer.writerow([cell_safe(label) for label in HEADER])
    for rows in entries_rows(queryset, account_ids=account_ids, zone=zone):
        for values in rows:
            yield writer.writerow(
                [cell_safe(v.isoformat() if hasattr(v, "isoformat") else v) for v in values]
            )
