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

from audience import counting
from audience.models import Account
from dnc import services as dnc_services
from dnc.destinations import sender_normalize
from dnc.exports import EVERY_CHANNEL
from dnc.models import AuditAction, Channel, DncAudit, DncEntry, DncEntryAccount, How, Kind, Source
from imports.phones import normalize_phone_fast
from imports.targets.people import Outcome, Record, RowRejected

_phone_chars = re.compile(r"\+?[\d\s().\-/]+")
_PHONE_CHANNELS = frozenset(c for c in Channel.values if c != Channel.EMAIL) | {""}
_CHANNEL_WORDS = {
    **{label.lower(): value for value, label in Channel.choices},
    **{value.lower(): value for value in Channel.values},
    EVERY_CHANNEL.lower(): "",
}
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
        if channel:  # the export's words: "Every channel", "WhatsApp", "Push notification"…
            channel = _CHANNEL_WORDS.get(channel.lower(), channel)
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

    # The analysis keeps a chunk's valid rows as the text COPY reads (kind, value, sender and
    # channel tab-separated, a line each): the import hands it to the database as it is.
    @staticmethod
    def dump_chunk(records: list[Record]) -> str:
        return _copy_text([_key(r) for r in records])

    @staticmethod
    def load_chunk(data: str | list) -> str:
        if isinstance(data, list):  # kept by an earlier version: [row, kind, value, sender, channel]
            return _copy_text([tuple(item[1:]) for item in data])
        return data

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

    def import_chunk(self, chunk: list[Record] | str) -> tuple[dict[str, int], list[int]]:
        """Write a chunk: the analysis's COPY text, or the records of the file read again. Nothing
        is classified first: the merge itself tells new from merged from unchanged."""
        if not isinstance(chunk, str):
            chunk = _copy_text([_key(r) for r in chunk])
        if not chunk:
            return {"created": 0, "updated": 0, "unchanged": 0}, []
        accounts = list(Account.objects.filter(pk__in=self.options.get("accounts") or [self.account.pk]))
        if connection.vendor == "postgresql":
            counts = _write_staged(chunk, accounts, self.user)
            if counts is not None:
                counting.data_changed(account_ids=[account.pk for account in accounts])
                return counts, []
        report = dnc_services.dnc_entries_add_normalized(
            accounts=accounts, keys=_copy_keys(chunk), source=Source.IMPORT, added_by=self.user
        )
        return {"created": report.created, "updated": report.merged, "unchanged": report.unchanged}, []


def _key(record: Record) -> tuple[str, str, str, str]:
    f = record.fields
    return (f["kind"], f["contact"], f["sender"], f["channel"])


_copy_escapes = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_copy_escaped = re.compile(r"\\(.)")
_copy_unescapes = {"t": "\t", "n": "\n", "r": "\r"}


def _copy_text(keys: list[tuple[str, str, str, str]]) -> str:
    """Keys in COPY's text format, without a final newline. An email or a sender may hold a
    backslash, a tab or a newline: the fields are escaped only then (checked once a chunk)."""
    text = "\n".join(["\t".join(key) for key in keys])
    if "\\" in text or "\r" in text or text.count("\n") != len(keys) - 1 or text.count("\t") != 3 * len(keys):
        text = "\n".join(["\t".join([part.translate(_copy_escapes) for part in key]) for key in keys])
    return text


def _copy_keys(text: str) -> list[tuple[str, str, str, str]]:
    """`_copy_text`'s keys again, for the generic writer."""
    keys = []
    for line in text.split("\n") if text else []:
        parts = line.split("\t")
        if "\\" in line:
            parts = [_copy_escaped.sub(lambda m: _copy_unescapes.get(m[1], m[1]), part) for part in parts]
        keys.append(tuple(parts))
    return keys


def _write_staged(text: str, accounts: list[Account], user) -> dict[str, int] | None:
    """PostgreSQL: COPY the chunk's entries (`_copy_text`) into a temporary table and merge them in
    one statement — new entries, the ids of existing ones, the accounts missing from each and
    their audit rows — instead of `dnc_entries_add`'s per-row probes: the same counts and audit
    trail. None, with nothing written, when an entry is neither new nor found (inserted or
    deleted by another transaction meanwhile): the generic path then decides."""
    entry, row = DncEntry._meta.db_table, DncEntryAccount._meta.db_table
    audit, account = DncAudit._meta.db_table, Account._meta.db_table
    params = {
        "now": timezone.now(),
        "source": Source.IMPORT,
        "how": How.IMPORT,
        "add": AuditAction.ADD,
        "accounts": [a.pk for a in accounts],
        "user": user.pk if user is not None else None,
        "username": user.get_username() if user is not None else "",
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS import_dnc_keys (kind text, value text, sender text, channel text) "
            "ON COMMIT DELETE ROWS"
        )
        # ON COMMIT empties it; a chunk inside a longer transaction must not see the last one's rows.
        cursor.execute("TRUNCATE import_dnc_keys")
        with cursor.cursor.copy("COPY import_dnc_keys (kind, value, sender, channel) FROM STDIN") as copy:
            copy.write(text + "\n")
        # The entries the statement inserts are not visible to its own probes (one snapshot): a
        # key is inserted now or found as it was when the statement began; else it is missing.
        cursor.execute(
            f"""WITH inserted AS (
                    INSERT INTO {entry} (kind, value, sender, channel, created_at)
                    SELECT kind, value, sender, channel, %(now)s FROM import_dnc_keys ORDER BY value
                    ON CONFLICT (value, sender, channel) DO NOTHING
                    RETURNING id, kind, value, sender, channel
                ), existing AS MATERIALIZED (
                    SELECT * FROM import_dnc_keys s WHERE NOT EXISTS (
                        SELECT FROM inserted i WHERE i.value = s.value AND i.sender = s.sender AND i.channel = s.channel)
                ), keyed AS (
                    SELECT e.id AS entry_id, s.kind, s.value, s.sender, s.channel FROM existing s CROSS JOIN LATERAL (
                        -- One index probe a key (LIMIT keeps it a probe): a hash join would read every entry.
                        SELECT id FROM {entry} e
                        WHERE e.value = s.value AND e.sender = s.sender AND e.channel = s.channel LIMIT 1) e
                ), added_new AS (
                    -- No other transaction can see a new entry yet: its rows need no conflict check.
                    INSERT INTO {row} (entry_id, account_id, kind, value, sender, channel, source, campaign,
                                       added_at, added_by_id)
                    SELECT i.id, a.id, i.kind, i.value, i.sender, i.channel, %(source)s, '', %(now)s, %(user)s
                    FROM inserted i CROSS JOIN unnest(%(accounts)s::bigint[]) AS a(id)
                    ORDER BY a.id, i.value  -- in index order: fewer pages touched per row
                    RETURNING entry_id, account_id, kind, value, sender, channel
                ), added_existing AS (
                    INSERT INTO {row} (entry_id, account_id, kind, value, sender, channel, source, campaign,
                                       added_at, added_by_id)
                    SELECT k.entry_id, a.id, k.kind, k.value, k.sender, k.channel, %(source)s, '', %(now)s, %(user)s
                    FROM keyed k CROSS JOIN unnest(%(accounts)s::bigint[]) AS a(id)
                    ORDER BY a.id, k.value
                    ON CONFLICT (entry_id, account_id) DO NOTHING
                    RETURNING entry_id, account_id, kind, value, sender, channel
                ), added AS (
                    SELECT * FROM added_new UNION ALL SELECT * FROM added_existing
                ), audited AS (
                    INSERT INTO {audit} (action, at, account_id, account_name, entry_id_copy, kind, value, sender,
                                         channel, source, campaign, how, user_id, username)
                    SELECT %(add)s, %(now)s, a.account_id, acc.name, a.entry_id, a.kind, a.value, a.sender,
                           a.channel, %(source)s, '', %(how)s, %(user)s, %(username)s
                    FROM added a JOIN {account} acc ON acc.id = a.account_id
                )
                SELECT (SELECT count(*) FROM import_dnc_keys), (SELECT count(*) FROM inserted), count(*),
                       count(*) FILTER (WHERE entry_id IN (SELECT entry_id FROM added_existing))
                FROM keyed""",
            params,
        )
        staged, created, found, merged = cursor.fetchone()
        if created + found != staged:
            transaction.set_rollback(True)
            return None
    return {"created": created, "updated": merged, "unchanged": staged - created - merged}
