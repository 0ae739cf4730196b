"""The people target: a row becomes a profile, matched to an existing one by its contacts (unique
per account) and its external id.

Rules, the same in analysis and import:
- a row needs a phone, an email or an external id; every value is validated;
- a row sharing a phone, email or external id with an earlier row of the file is rejected as a
  duplicate (naming that row); a row whose keys point to two different profiles is rejected;
- an empty cell never erases a stored value; "rewrite" sets the file's values, "keep" changes
  nothing on existing profiles; importing as customer promotes a lead (rewrite only); a customer
  is never demoted to a lead.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from audience import counting
from audience.attributes import attribute_value_parse
from audience.contacts import normalize_email
from audience.fields import PROFILE_FIELDS
from audience.models import (
    Account,
    AttributeDefinition,
    AttributeType,
    Company,
    Contact,
    Profile,
    ProfileType,
)
from imports.phones import normalize_phone_fast

MAX_CONTACTS = 100
GENDERS = {"male": "male", "m": "male", "man": "male", "female": "female", "f": "female", "woman": "female"}
REASONS = {
    "no_key": "No phone, email or external id",
    "phone": "Invalid phone",
    "email": "Invalid email",
    "value": "Invalid value",
    "duplicate": "Duplicate inside the file",
    "conflict": "Matches two different profiles",
    "too_many_contacts": f"More than {MAX_CONTACTS} contacts",
}


class RowRejected(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Record:
    row_no: int
    cells: list[str]
    external_id: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    company: str = ""
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    profile_id: int | None = None  # the existing profile it matches


@dataclass
class Outcome:
    record: Record
    result: str  # new, changed, same, rejected
    code: str = ""
    message: str = ""


@functools.cache  # once a field, not once a cell
def _max_length(name: str) -> int:
    return Profile._meta.get_field(name).max_length


class PeopleTarget:
    reasons = REASONS

    def __init__(self, *, account: Account, mapping: list[str], options: dict | None = None):
        self.account = account
        self.options = options or {}
        self.type = self.options.get("type", ProfileType.LEAD)
        self.rewrite = self.options.get("existing", "keep") == "rewrite"
        self.all_new = False  # the analysis found every row new: see `_create_all_new`
        types = {d.name: d.type for d in AttributeDefinition.objects.for_account(account)}
        self.columns: list[tuple[int, str, str]] = []  # (index, key, attribute type)
        for index, key in enumerate(mapping):
            if key.startswith("custom."):
                self.columns.append((index, key, types.get(key[7:], AttributeType.TEXT)))
            elif key:
                self.columns.append((index, key, ""))
        self._companies: dict[str, int] = {}

    # Parsing and validation of one row -------------------------------------------------------
    def parse(self, row_no: int, cells: list[str]) -> Record:
        record = Record(row_no=row_no, cells=cells)
        for index, key, type_ in self.columns:
            raw = cells[index].strip() if index < len(cells) else ""
            if not raw:
                continue
            if key == "phone":
                # "a; b": several in one cell, as the People export writes them.
                for part in raw.split(";") if ";" in raw else (raw,):
                    if not (part := part.strip()):
                        continue
                    try:
                        value = normalize_phone_fast(part)
                    except ValidationError as error:
                        raise RowRejected("phone", error.messages[0]) from None
                    if value not in record.phones:
                        record.phones.append(value)
            elif key == "email":
                for part in raw.split(";") if ";" in raw else (raw,):
                    if not (part := part.strip()):
                        continue
                    try:
                        value = normalize_email(part)
                    except ValidationError as error:
                        raise RowRejected("email", error.messages[0]) from None
                    if value not in record.emails:
                        record.emails.append(value)
            elif key == "company":
                if len(raw) > 255:
                    raise RowRejected("value", "Company is longer than 255 characters.")
                record.company = raw
            elif key.startswith("custom."):
                try:
                    record.attributes[key[7:]] = attribute_value_parse(type_, raw)
                except ValidationError as error:
                    raise RowRejected("value", f"{key[7:]}: {error.messages[0]}") from None
            else:
                record.fields[key] = self._standard(key, raw)
        record.external_id = record.fields.pop("external_id", "")
        if not (record.phones or record.emails or record.external_id):
            raise RowRejected("no_key", "The row has no phone, email or external id.")
        if len(record.phones) + len(record.emails) > MAX_CONTACTS:
            raise RowRejected("too_many_contacts", f"The row has more than {MAX_CONTACTS} contacts.")
        return record

    def _standard(self, key: str, raw: str) -> Any:
        if key == "gender":
            gender = GENDERS.get(raw.lower())
            if gender is None:
                raise RowRejected("value", f"Gender: {raw!r} is not male or female.")
            return gender
        if key == "birth_date":
            try:
                return dt.date.fromisoformat(attribute_value_parse(AttributeType.DATE, raw))
            except ValidationError:
                raise RowRejected("value", f"Birth date: {raw!r} is not a date (YYYY-MM-DD).") from None
        limit = _max_length(key)
        if len(raw) > limit:
            raise RowRejected(
                "value", f"{key.replace('_', ' ').capitalize()} is longer than {limit} characters."
            )
        return raw

    # The analysis keeps each valid row's parsed values (one JSON line per chunk, see
    # imports.services), so the import writes without validating again.
    @staticmethod
    def dump(record: Record) -> list:
        fields = record.fields
        if "birth_date" in fields:
            fields = {**fields, "birth_date": fields["birth_date"].isoformat()}
        return [
            record.row_no,
            record.external_id,
            fields,
            record.company,
            record.phones,
            record.emails,
            record.attributes,
        ]

    @staticmethod
    def load(data: list) -> Record:
        row_no, external_id, fields, company, phones, emails, attributes = data
        if "birth_date" in fields:
            fields["birth_date"] = dt.date.fromisoformat(fields["birth_date"])
        return Record(
            row_no=row_no,
            cells=[],
            external_id=external_id,
            fields=fields,
            company=company,
            phones=phones,
            emails=emails,
            attributes=attributes,
        )

    def dump_chunk(self, records: list[Record]) -> list:
        return [self.dump(r) for r in records]

    def load_chunk(self, data: list) -> list[Record]:
        return [self.load(item) for item in data]

    @staticmethod
    def keys(record: Record) -> list[str]:
        return (
            [f"phone {p}" for p in record.phones]
            + [f"email {e}" for e in record.emails]
            + ([f"external id {record.external_id}"] if record.external_id else [])
        )

    # Matching a chunk against the database ----------------------------------------------------
    def classify(self, records: list[Record]) -> list[Outcome]:
        """Match each record to its profile and say whether importing it would create, change or
        leave the profile as it is (under the job's options)."""
        by_contact = self._contact_owners(
            sorted({p for r in records for p in r.phones}), sorted({e for r in records for e in r.emails})
        )
        by_external = self._external_owners(sorted({r.external_id for r in records if r.external_id}))
        outcomes: list[Outcome] = []
        matched: dict[int, Record] = {}
        for record in records:
            found = {by_contact[v] for v in record.phones + record.emails if v in by_contact}
            if record.external_id in by_external:
                found.add(by_external[record.external_id])
            if len(found) > 1:
                outcomes.append(
                    Outcome(
                        record,
                        "rejected",
                        "conflict",
                        "The row's phone, email or external id belong to different profiles.",
                    )
                )
                continue
            record.profile_id = found.pop() if found else None
            if record.profile_id:
                matched[record.profile_id] = record
            outcomes.append(Outcome(record, "new" if record.profile_id is None else "same"))
        if matched:
            current = {
                row["pk"]: row
                for row in Profile.objects.filter(pk__in=list(matched)).values(
                    "pk",
                    "type",
                    "company__name",
                    "attributes",
                    "external_id",
                    *{k for r in matched.values() for k in r.fields},
                )
            }
            contacts: dict[int, set[str]] = {}
            for pid, value in Contact.objects.filter(profile_id__in=list(matched)).values_list(
                "profile_id", "value"
            ):
                contacts.setdefault(pid, set()).add(value)
            for outcome in outcomes:
                record = outcome.record
                if outcome.result != "same":
                    continue
                have = contacts.get(record.profile_id, set())
                added = [v for v in record.phones + record.emails if v not in have]
                if len(have) + len(added) > MAX_CONTACTS:
                    outcome.result, outcome.code = "rejected", "too_many_contacts"
                    outcome.message = f"The profile would have more than {MAX_CONTACTS} contacts."
                elif self._changes(record, current[record.profile_id], added):
                    outcome.result = "changed"
        return outcomes

    def _contact_owners(self, phones: list[str], emails: list[str]) -> dict[str, int]:
        """{value: profile id} of the chunk's contacts that exist, by the unique (account, kind,
        value) index; on PostgreSQL one array parameter instead of thousands of IN parameters."""
        found: dict[str, int] = {}
        for kind, values in (("phone", phones), ("email", emails)):
            if not values:
                continue
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT value, profile_id FROM {Contact._meta.db_table} "
                        "WHERE account_id = %s AND kind = %s AND value = ANY(%s)",
                        [self.account.pk, kind, values],
                    )
                    found.update(cursor.fetchall())
            else:
                for start in range(0, len(values), 900):
                    found.update(
                        Contact.objects.filter(
                            account=self.account, kind=kind, value__in=values[start : start + 900]
                        ).values_list("value", "profile_id")
                    )
        return found

    def _external_owners(self, values: list[str]) -> dict[str, int]:
        if not values:
            return {}
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT external_id, id FROM {Profile._meta.db_table} "
                    "WHERE account_id = %s AND external_id = ANY(%s) AND external_id <> ''",
                    [self.account.pk, values],
                )
                return dict(cursor.fetchall())
        found: dict[str, int] = {}
        for start in range(0, len(values), 900):
            found.update(
                Profile.objects.filter(
                    account=self.account, external_id__in=values[start : start + 900]
                ).values_list("external_id", "pk")
            )
        return found

    def _changes(self, record: Record, current: dict, added_contacts: list[str]) -> dict[str, Any]:
        changes = {k: v for k, v in record.fields.items() if current.get(k) != v}
        if record.external_id and current["external_id"] != record.external_id:
            changes["external_id"] = record.external_id
        if record.company and (current["company__name"] or "").lower() != record.company.lower():
            changes["company"] = record.company
        attributes = current["attributes"] or {}
        if any(attributes.get(k) != v for k, v in record.attributes.items() if v is not None):
            changes["attributes"] = {
                **attributes,
                **{k: v for k, v in record.attributes.items() if v is not None},
            }
        if self.type == ProfileType.CUSTOMER and current["type"] == ProfileType.LEAD:
            changes["type"] = ProfileType.CUSTOMER
        if added_contacts:
            changes["contacts"] = added_contacts
        return changes

    # Tags -------------------------------------------------------------------------------------
    def tags_resolve(self, job) -> list:
        from imports.services import tag_names
        from tags import services as tag_services

        return [tag_services.tag_get_or_create(account=self.account, name=name) for name in tag_names(job)]

    def tags_apply(self, tags: list, profile_ids: list[int]) -> None:
        """Link the chunk's profiles (all the account's: matched or just created) to the tags;
        one INSERT … SELECT unnest … ON CONFLICT DO NOTHING on PostgreSQL, no per-chunk counts."""
        from tags import services as tag_services

        tag_services.links_insert(
            account_id=self.account.pk, tag_ids=[t.pk for t in tags], profile_ids=sorted(set(profile_ids))
        )

    def tags_touch(self, tags: list) -> None:
        from tags.models import Tag

        Tag.objects.filter(pk__in=[t.pk for t in tags]).update(modified_at=timezone.now())

    # Writing a chunk ---------------------------------------------------------------------------
    def import_chunk(self, records: list[Record]) -> tuple[dict[str, int], list[int]]:
        """Match (the database may have changed since the analysis) and write a chunk; the counts
        include the rows rejected by matching. In the chunk's transaction, which `tags_apply`
        joins: the one `counting.data_changed` here covers both."""
        if self.all_new and records and connection.vendor == "postgresql":
            created = self._create_all_new(records)
            if created is not None:
                counting.data_changed(account_ids=[self.account.pk])
                return created
            self.all_new = False  # the database has changed since the analysis: match each row
        outcomes = self.classify(records)
        counts, ids = self.write(outcomes)
        counts["rejected"] = sum(1 for o in outcomes if o.result == "rejected")
        counting.data_changed(account_ids=[self.account.pk])
        return counts, ids

    def write(self, outcomes: list[Outcome]) -> tuple[dict[str, int], list[int]]:
        """Write a classified chunk; returns the counts and the ids of every valid row's profile."""
        new = [o.record for o in outcomes if o.result == "new"]
        changed = [o for o in outcomes if o.result == "changed"]
        self._companies_resolve({r.company for r in new + [o.record for o in changed] if r.company})
        if new:
            self._create(new)
        if changed and self.rewrite:
            self._update(changed)
        results = Counter(o.result for o in outcomes)
        counts = {
            "created": len(new),
            "updated": results["changed"] if self.rewrite else 0,
            "unchanged": results["same"] + (0 if self.rewrite else results["changed"]),
        }
        ids = [o.record.profile_id for o in outcomes if o.result != "rejected"]
        return counts, ids

    def prepare_chunk(self, records: list[Record]) -> None:
        """Before the chunk's transaction (`imports.streams`): make the companies its rows name,
        each committed at once, so that chunks written at the same time, naming the same new
        company, don't wait on each other's uncommitted one."""
        self._companies_resolve({r.company for r in records if r.company})

    def _companies_resolve(self, names: set[str]) -> None:
        wanted = {n.lower(): n for n in names if n.lower() not in self._companies}
        if not wanted:
            return

        def lookup() -> None:
            rows = (
                Company.objects.for_account(self.account)
                .annotate(lname=Lower("name"))
                .filter(lname__in=list(wanted))
            )
            self._companies.update({lname: pk for lname, pk in rows.values_list("lname", "pk")})

        lookup()
        missing = [
            Company(account=self.account, name=n) for ln, n in wanted.items() if ln not in self._companies
        ]
        if missing:
            Company.objects.bulk_create(missing, ignore_conflicts=True)
            lookup()

    def _company_id(self, name: str) -> int | None:
        return self._companies.get(name.lower()) if name else None

    def _create_all_new(self, records: list[Record]) -> tuple[dict[str, int], list[int]] | None:
        """When the analysis found no row's phone, email or external id in the account, each
        row is written as a new profile without matching it first: the unique indexes check
        instead, and if any key is taken now (written since the analysis) the chunk goes back
        to its savepoint and None says: match each row."""
        self._companies_resolve({r.company for r in records if r.company})
        try:
            with transaction.atomic():
                self._create_copy(records, timezone.now(), only_new=True)
        except IntegrityError:
            for record in records:
                record.profile_id = None
            return None
        counts = {"created": len(records), "updated": 0, "unchanged": 0, "rejected": 0}
        return counts, [r.profile_id for r in records]

    def _create(self, records: list[Record]) -> None:
        now = timezone.now()
        if connection.vendor == "postgresql":
            self._create_copy(records, now)
            return
        profiles = [
            Profile(
                account=self.account,
                external_id=r.external_id,
                type=self.type,
                company_id=self._company_id(r.company),
                attributes={k: v for k, v in r.attributes.items() if v is not None},
                created_at=now,
                modified_at=now,
                **r.fields,
            )
            for r in records
        ]
        Profile.objects.bulk_create(profiles, batch_size=1000)
        for record, profile in zip(records, profiles, strict=True):
            record.profile_id = profile.pk
        Contact.objects.bulk_create(self._contacts(records, now), batch_size=2000)

    def _contacts(
        self, records: Iterable[Record], now: dt.datetime, only: dict[int, list[str]] | None = None
    ) -> list[Contact]:
        made = []
        for r in records:
            for kind, values in (("phone", r.phones), ("email", r.emails)):
                for value in values:
                    if only is None or value in only.get(r.profile_id, ()):
                        made.append(
                            Contact(
                                account=self.account,
                                profile_id=r.profile_id,
                                kind=kind,
                                value=value,
                                created_at=now,
                            )
                        )
        return made

    def _create_copy(self, records: list[Record], now: dt.datetime, only_new: bool = False) -> None:
        """PostgreSQL: ids from the sequence, COPY into temporary staging tables, then merge
        de-duplicated rows into the real tables. `only_new`: a contact already taken raises
        IntegrityError instead of being left out (no probe of the unique index before each
        insert, which ON CONFLICT makes)."""
        # External id and type come from the record and the job; the other standard fields from
        # the row's parsed fields, empty when it leaves one out.
        optional = [(f.name, f.empty) for f in PROFILE_FIELDS if f.name not in ("external_id", "type")]
        columns = [
            "id",
            "account_id",
            "external_id",
            "type",
            *[name for name, _ in optional],
            "company_id",
            "attributes",
            "created_at",
            "modified_at",
        ]
        profile_table, contact_table = Profile._meta.db_table, Contact._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS import_profile_stage (LIKE {profile_table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS import_contact_stage "
                "(row_no bigint, account_id bigint, profile_id bigint, kind varchar(8), value varchar(255), created_at timestamptz) "
                "ON COMMIT DELETE ROWS"
            )
            # ON COMMIT empties them; a chunk inside a longer transaction must not see the last one's rows.
            cursor.execute("TRUNCATE import_profile_stage, import_contact_stage")
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [profile_table, len(records)],
            )
            for record, (pk,) in zip(records, cursor.fetchall(), strict=True):
                record.profile_id = pk
            account_id = self.account.pk
            with cursor.cursor.copy(f"COPY import_profile_stage ({', '.join(columns)}) FROM STDIN") as copy:
                for r in records:
                    f = r.fields
                    copy.write_row(
                        (
                            r.profile_id,
                            account_id,
                            r.external_id,
                            self.type,
                            *[f.get(name, empty) for name, empty in optional],
                            self._company_id(r.company),
                            json.dumps({k: v for k, v in r.attributes.items() if v is not None})
                            if r.attributes
                            else "{}",
                            now,
                            now,
                        )
                    )
            with cursor.cursor.copy(
                "COPY import_contact_stage (row_no, account_id, profile_id, kind, value, created_at) FROM STDIN"
            ) as copy:
                for r in records:
                    for kind, values in (("phone", r.phones), ("email", r.emails)):
                        for value in values:
                            copy.write_row((r.row_no, account_id, r.profile_id, kind, value, now))
            cols = ", ".join(columns)
            cursor.execute(
                f"INSERT INTO {profile_table} ({cols}) SELECT DISTINCT ON (id) {cols} FROM import_profile_stage ORDER BY id"
            )
            cursor.execute(
                f"INSERT INTO {contact_table} (account_id, profile_id, kind, value, created_at) "
                "SELECT DISTINCT ON (kind, value) account_id, profile_id, kind, value, created_at "
                "FROM import_contact_stage ORDER BY kind, value, row_no"
                + ("" if only_new else " ON CONFLICT (account_id, kind, value) DO NOTHING")
            )

    def _update(self, outcomes: list[Outcome]) -> None:
        """Rewrite the matched profiles, each locked and read again first: another transaction
        (a chunk of the same file written at the same time, see `imports.streams`) may have
        changed one since the matching. A row that no longer changes its profile turns "same";
        one that would now give it too many contacts, "rejected"."""
        now = timezone.now()
        ids = sorted({o.record.profile_id for o in outcomes})
        list(Profile.objects.filter(pk__in=ids).order_by("pk").select_for_update().values_list("pk"))
        current = {
            row["pk"]: row
            for row in Profile.objects.filter(pk__in=ids).values(
                "pk",
                "type",
                "company_id",
                "company__name",
                "attributes",
                "external_id",
                *{k for o in outcomes for k in o.record.fields},
            )
        }
        have: dict[int, set[str]] = {}
        for pid, value in Contact.objects.filter(profile_id__in=ids).values_list("profile_id", "value"):
            have.setdefault(pid, set()).add(value)
        planned, touched, new_contacts = [], set(), {}
        for outcome in outcomes:
            r = outcome.record
            added = [v for v in r.phones + r.emails if v not in have.get(r.profile_id, set())]
            if len(have.get(r.profile_id, ())) + len(added) > MAX_CONTACTS:
                outcome.result, outcome.code = "rejected", "too_many_contacts"
                outcome.message = f"The profile would have more than {MAX_CONTACTS} contacts."
                continue
            changes = self._changes(r, current[r.profile_id], added)
            if not changes:
                outcome.result = "same"
                continue
            if added:
                new_contacts[r.profile_id] = added
                have.setdefault(r.profile_id, set()).update(added)
            changes.pop("contacts", None)
            if "company" in changes:
                changes["company_id"] = self._company_id(changes.pop("company"))
            # A profile matched by two rows of the chunk: the second starts from the first's values.
            current[r.profile_id] = {**current[r.profile_id], **changes}
            touched.update(changes)
            planned.append(r)
        # Every touched column of every planned profile is written: the stored values, with
        # this chunk's changes on top (`current`).
        ids = sorted({r.profile_id for r in planned})
        fields = sorted(touched)
        if ids and connection.vendor == "postgresql":
            self._update_copy([current[pid] for pid in ids], fields, now)
        elif ids:
            profiles = []
            for pid in ids:
                profile = Profile(pk=pid, modified_at=now)
                for key in fields:
                    setattr(profile, key, current[pid][key])
                profiles.append(profile)
            Profile.objects.bulk_update(profiles, [*fields, "modified_at"], batch_size=1000)
        Contact.objects.bulk_create(
            self._contacts([o.record for o in outcomes], now, only=new_contacts),
            batch_size=2000,
            ignore_conflicts=True,
        )

    def _update_copy(self, rows: list[dict], fields: list[str], now: dt.datetime) -> None:
        """PostgreSQL: the new values COPYed into a temporary table and written by one
        UPDATE … FROM (bulk_update builds a CASE per row and column in Python: slower per row)."""
        columns = [Profile._meta.get_field(name).column for name in fields]
        table = Profile._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS import_profile_update")
            cursor.execute(
                f"CREATE TEMP TABLE import_profile_update ON COMMIT DROP AS "
                f"SELECT {', '.join(['id', *columns])} FROM {table} WITH NO DATA"
            )
            with cursor.cursor.copy(
                f"COPY import_profile_update ({', '.join(['id', *columns])}) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(
                        [row["pk"]]
                        + [json.dumps(row[name]) if name == "attributes" else row[name] for name in fields]
                    )
            assignments = "".join(f"{column} = s.{column}, " for column in columns)
            cursor.execute(
                f"UPDATE {table} p SET {assignments}modified_at = %s "
                "FROM import_profile_update s WHERE p.id = s.id",
                [now],
            )
