"""Matching a chunk of parsed rows against the account's profiles: new, changed, the same, or
rejected (keys of two profiles, too many contacts)."""

from __future__ import annotations

from typing import Any

from django.db import connection

from audience.models import Account, Contact, Profile, ProfileType
from imports.targets.people.parse import MAX_CONTACTS, Outcome, Record


class Classifying:
    """`PeopleTarget`'s matching; the owner look-ups go to `postgres` on PostgreSQL."""

    account: Account
    type: str

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

    def _contact_owners(self, phones: list[str], emails: list[str]) -> dict[str, int]:
        """{value: profile id} of the chunk's contacts that exist, by the unique (account, kind,
        value) index."""
        owners = (
            self._pg_contact_owners if connection.vendor == "postgresql" else self._generic_contact_owners
        )
        found: dict[str, int] = {}
        for kind, values in (("phone", phones), ("email", emails)):
            if values:
                found.update(owners(kind, values))
        return found

    def _generic_contact_owners(self, kind: str, values: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
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
            return self._pg_external_owners(values)
        return self._generic_external_owners(values)

    def _generic_external_owners(self, values: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(values), 900):
            found.update(
                Profile.objects.filter(
                    account=self.account, external_id__in=values[start : start + 900]
                ).values_list("external_id", "pk")
            )
        return found
