"""The Do Not Contact target: columns contact, sender, channel; the write goes through
`dnc.services.dnc_entries_add_normalized` for the accounts chosen in the options (one or more of
the user's), which merges and audits. Rows are validated once, in the analysis, with the same
rules as `dnc.services.dnc_entry_parse` (phones in E.164 shape by `imports.phones`, the rest by
`dnc_entry_parse` itself), so the analysis and the rejected-rows file agree with the list."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import connection

from audience.models import Account
from dnc import services as dnc_services
from dnc.destinations import sender_normalize
from dnc.models import Channel, DncEntryAccount, Kind, Source
from imports.phones import normalize_phone_fast
from imports.targets.people import Outcome, Record, RowRejected

_phone_chars = re.compile(r"\+?[\d\s().\-/]+")
_PHONE_CHANNELS = frozenset(c for c in Channel.values if c != Channel.EMAIL) | {""}
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
        self._senders: dict[str, str] = {}
        self.columns = {key: index for index, key in enumerate(mapping) if key}

    def _cell(self, cells: list[str], key: str) -> str:
        index = self.columns.get(key)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    def parse(self, row_no: int, cells: list[str]) -> Record:
        contact, sender, channel = (
            self._cell(cells, "contact"),
            self._cell(cells, "sender"),
            self._cell(cells, "channel"),
        )
        key = self._phone_key(contact, sender, channel)
        if key is None:
            try:
                key = dnc_services.dnc_entry_parse(contact=contact, sender=sender, channel=channel)
            except ValidationError as error:
                field = next(iter(error.message_dict), "value")
                raise RowRejected(
                    field if field in REASONS else "value", " ".join(error.message_dict[field])
                ) from None
            key = (key.kind, key.value, key.sender, key.channel)
        record = Record(row_no=row_no, cells=cells)
        record.fields = {"kind": key[0], "contact": key[1], "sender": key[2], "channel": key[3]}
        return record

    def _phone_key(self, contact: str, sender: str, channel: str) -> tuple[str, str, str, str] | None:
        """`dnc_entry_parse`'s answer for the common row — a phone number, a channel that can
        reach a phone, a sender seen before — without its per-row cost (a number that is not
        valid is refused with the same message); None for anything else (then `dnc_entry_parse`
        decides)."""
        if not contact or "@" in contact or len(contact) > 255 or not _phone_chars.fullmatch(contact):
            return None
        channel = channel.upper()
        if channel not in _PHONE_CHANNELS:
            return None
        normal = self._senders.get(sender)
        if normal is None:
            normal = sender_normalize(sender)
            if len(normal) > 100:
                return None
            self._senders[sender] = normal
        try:
            value = normalize_phone_fast(contact)
        except ValidationError as error:  # the message dnc_entry_parse gives, without parsing again
            raise RowRejected("contact", " ".join(error.messages)) from None
        return (Kind.PHONE, value, normal, channel)

    @staticmethod
    def dump(record: Record) -> list:
        f = record.fields
        return [record.row_no, f["kind"], f["contact"], f["sender"], f["channel"]]

    @staticmethod
    def load(data: list) -> Record:
        record = Record(row_no=data[0], cells=[])
        record.fields = {"kind": data[1], "contact": data[2], "sender": data[3], "channel": data[4]}
        return record

    @staticmethod
    def keys(record: Record) -> list[str]:
        f = record.fields
        return [f"entry {f['contact']} {f['sender'] or '(any sender)'} {f['channel'] or '(any channel)'}"]

    def classify(self, records: list[Record]) -> list[Outcome]:
        """New or already on this account's list (the analysis looks at the current account)."""
        values = sorted({r.fields["contact"] for r in records})
        present: set[tuple[str, str, str]] = set()
        if connection.vendor == "postgresql":  # one array parameter, not 900 placeholders a query
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT value, sender, channel FROM {DncEntryAccount._meta.db_table} "
                    "WHERE account_id = %s AND value = ANY(%s)",
                    [self.account.pk, values],
                )
                present.update(cursor.fetchall())
            values = []
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
        keys = [
            (f["kind"], f["contact"], f["sender"], f["channel"])
            for o in outcomes
            if o.result != "rejected"
            for f in [o.record.fields]
        ]
        if not keys:
            return {"created": 0, "updated": 0, "unchanged": 0}, []
        report = dnc_services.dnc_entries_add_normalized(
            accounts=accounts, keys=keys, source=Source.IMPORT, added_by=self.user
        )
        return {"created": report.created, "updated": report.merged, "unchanged": report.unchanged}, []
