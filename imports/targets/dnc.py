"""The Do Not Contact target: columns contact, sender, channel; the write goes through
`dnc.services.dnc_entries_add_normalized` for the accounts chosen in the options (one or more of
the user's), which merges and audits. Rows are validated once, in the analysis, with the same
rules as `dnc.services.dnc_entry_parse` (phones in E.164 shape by `imports.phones`, the rest by
`dnc_entry_parse` itself), so the analysis and the rejected-rows file agree with the list."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from audience.models import Account
from dnc import services as dnc_services
from dnc.destinations import sender_normalize
from dnc.models import AuditAction, Channel, DncAudit, DncEntry, DncEntryAccount, How, Kind, Source
from imports.phones import normalize_phone_fast
from imports.targets.people import Outcome, Record, RowRejected

_phone_chars = re.compile(r"\+?[\d\s().\-/]+")
_PHONE_CHANNELS = frozenset(c for c in Channel.values if c != Channel.EMAIL) | {""}
_PHONE = Kind.PHONE.value  # a plain str: an enum member's attribute access costs ~1 µs a row
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
        # The three cells' positions (-1: not mapped), looked up once, not three times a row.
        self._at = tuple(self.columns.get(key, -1) for key in ("contact", "sender", "channel"))

    def parse(self, row_no: int, cells: list[str]) -> Record:
        size, (at_contact, at_sender, at_channel) = len(cells), self._at
        contact = cells[at_contact].strip() if 0 <= at_contact < size else ""
        sender = cells[at_sender].strip() if 0 <= at_sender < size else ""
        channel = cells[at_channel].strip() if 0 <= at_channel < size else ""
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
        return (_PHONE, value, normal, channel)

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

    @staticmethod
    def classify_for_write(records: list[Record]) -> list[Outcome]:
        """The import needs no classification: the merge itself tells new from merged from
        unchanged, so the per-chunk lookup `classify` makes for the analysis is skipped."""
        return [Outcome(r, "new") for r in records]

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
        if connection.vendor == "postgresql":
            counts = _write_staged(keys, accounts, self.user)
            if counts is not None:
                return counts, []
        report = dnc_services.dnc_entries_add_normalized(
            accounts=accounts, keys=keys, source=Source.IMPORT, added_by=self.user
        )
        return {"created": report.created, "updated": report.merged, "unchanged": report.unchanged}, []


def _write_staged(
    keys: list[tuple[str, str, str, str]], accounts: list[Account], user
) -> dict[str, int] | None:
    """PostgreSQL: COPY the chunk's entries into a temporary table and merge them with a few
    set-based statements (new entries, then the accounts missing from every entry, each audited),
    instead of `dnc_entries_add`'s per-row probes: the same counts and audit trail. None, with
    nothing written, when an entry vanished under us (deleted concurrently): the generic path
    then decides."""
    entry, row = DncEntry._meta.db_table, DncEntryAccount._meta.db_table
    audit, account = DncAudit._meta.db_table, Account._meta.db_table
    params = {
        "now": timezone.now(),
        "source": Source.IMPORT,
        "how": How.IMPORT,
        "accounts": [a.pk for a in accounts],
        "user": user.pk if user is not None else None,
        "username": user.get_username() if user is not None else "",
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS import_dnc_stage (kind text, value text, sender text, "
            "channel text, entry_id bigint, is_new boolean NOT NULL DEFAULT false) ON COMMIT DELETE ROWS"
        )
        # ON COMMIT empties it; a chunk inside a longer transaction must not see the last one's rows.
        cursor.execute("TRUNCATE import_dnc_stage")
        with cursor.cursor.copy("COPY import_dnc_stage (kind, value, sender, channel) FROM STDIN") as copy:
            for key in dict.fromkeys(keys):  # a repeat is unchanged (the analysis refuses them anyway)
                copy.write_row(key)
        cursor.execute("ANALYZE import_dnc_stage")  # no statistics otherwise: the joins below need them
        cursor.execute(
            f"""WITH inserted AS (
                    INSERT INTO {entry} (kind, value, sender, channel, created_at)
                    SELECT kind, value, sender, channel, %(now)s FROM import_dnc_stage ORDER BY value
                    ON CONFLICT (value, sender, channel) DO NOTHING
                    RETURNING id, value, sender, channel)
                UPDATE import_dnc_stage s SET entry_id = i.id, is_new = true FROM inserted i
                WHERE i.value = s.value AND i.sender = s.sender AND i.channel = s.channel""",
            params,
        )
        cursor.execute(
            f"""UPDATE import_dnc_stage s SET entry_id = e.id FROM {entry} e
                WHERE s.entry_id IS NULL
                  AND e.value = s.value AND e.sender = s.sender AND e.channel = s.channel"""
        )
        cursor.execute("SELECT EXISTS (SELECT FROM import_dnc_stage WHERE entry_id IS NULL)")
        if cursor.fetchone()[0]:
            transaction.set_rollback(True)
            return None
        cursor.execute(
            f"""WITH added AS (
                    INSERT INTO {row} (entry_id, account_id, kind, value, sender, channel, source, campaign,
                                       added_at, added_by_id)
                    SELECT s.entry_id, a.id, s.kind, s.value, s.sender, s.channel, %(source)s, '', %(now)s, %(user)s
                    FROM import_dnc_stage s CROSS JOIN unnest(%(accounts)s::bigint[]) AS a(id)
                    ORDER BY a.id, s.value  -- in index order: fewer pages touched per row
                    ON CONFLICT (entry_id, account_id) DO NOTHING
                    RETURNING entry_id, account_id, kind, value, sender, channel
                ), audited AS (
                    INSERT INTO {audit} (action, at, account_id, account_name, entry_id_copy, kind, value, sender,
                                         channel, source, campaign, how, user_id, username)
                    SELECT %(add)s, %(now)s, a.account_id, acc.name, a.entry_id, a.kind, a.value, a.sender,
                           a.channel, %(source)s, '', %(how)s, %(user)s, %(username)s
                    FROM added a JOIN {account} acc ON acc.id = a.account_id
                )
                SELECT count(*) FILTER (WHERE s.is_new),
                       count(*) FILTER (WHERE NOT s.is_new AND s.entry_id IN (SELECT entry_id FROM added))
                FROM import_dnc_stage s""",
            {**params, "add": AuditAction.ADD},
        )
        created, merged = cursor.fetchone()
    return {"created": created, "updated": merged, "unchanged": len(keys) - created - merged}
