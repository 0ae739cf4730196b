"""The Do Not Contact target: columns contact, sender, channel; the write goes through
`dnc.services.dnc_entries_add` for the accounts chosen in the options (one or more of the
user's), which validates, merges and audits. Rows are validated here with the same
`dnc.services.dnc_entry_parse` first, so the analysis and the rejected-rows file agree with it."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from audience.models import Account
from dnc import services as dnc_services
from dnc.models import DncEntryAccount, Source
from imports.targets.people import Outcome, Record, RowRejected

REASONS = {
    "contact": "Invalid contact",
    "channel": "Invalid channel",
    "sender": "Invalid sender",
    "duplicate": "Duplicate inside the file",
    "value": "Invalid value",
}


class DncTarget:
    reasons = REASONS

    def __init__(self, *, account: Account, mapping: list[str], options: dict | None = None, user=None):
        self.account, self.user, self.options = account, user, options or {}
        self.columns = {key: index for index, key in enumerate(mapping) if key}

    def _cell(self, cells: list[str], key: str) -> str:
        index = self.columns.get(key)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    def parse(self, row_no: int, cells: list[str]) -> Record:
        try:
            key = dnc_services.dnc_entry_parse(
                contact=self._cell(cells, "contact"),
                sender=self._cell(cells, "sender"),
                channel=self._cell(cells, "channel"),
            )
        except ValidationError as error:
            field = next(iter(error.message_dict), "value")
            raise RowRejected(
                field if field in REASONS else "value", " ".join(error.message_dict[field])
            ) from None
        record = Record(row_no=row_no, cells=cells)
        record.fields = {"kind": key.kind, "contact": key.value, "sender": key.sender, "channel": key.channel}
        return record

    @staticmethod
    def keys(record: Record) -> list[str]:
        f = record.fields
        return [f"entry {f['contact']} {f['sender'] or '(any sender)'} {f['channel'] or '(any channel)'}"]

    def classify(self, records: list[Record]) -> list[Outcome]:
        """New or already on this account's list (the analysis looks at the current account)."""
        values = sorted({r.fields["contact"] for r in records})
        present: set[tuple[str, str, str]] = set()
        for start in range(0, len(values), 900):
            present.update(
                DncEntryAccount.objects.filter(
                    account=self.account, value__in=values[start : start + 900]
                ).values_list("value", "sender", "channel")
            )
        return [
            Outcome(
                r,
                "same"
                if (r.fields["contact"], r.fields["sender"], r.fields["channel"]) in present
                else "new",
            )
            for r in records
        ]

    def write(self, outcomes: list[Outcome]) -> tuple[dict[str, int], list[int]]:
        accounts = list(Account.objects.filter(pk__in=self.options.get("accounts") or [self.account.pk]))
        entries = [
            {
                "contact": o.record.fields["contact"],
                "sender": o.record.fields["sender"],
                "channel": o.record.fields["channel"],
            }
            for o in outcomes
            if o.result != "rejected"
        ]
        if not entries:
            return {"created": 0, "updated": 0, "unchanged": 0}, []
        report = dnc_services.dnc_entries_add(
            accounts=accounts, entries=entries, source=Source.IMPORT, added_by=self.user
        )
        return {
            "created": report.created,
            "updated": report.merged,
            "unchanged": report.unchanged,
            "rejected": len(report.rejected),
        }, []
