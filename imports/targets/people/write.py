"""Writing a classified chunk of a people import: new profiles created, changed ones rewritten
(under the job's options), companies made as rows name them. On PostgreSQL the rows go by COPY
(`postgres`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable

from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from audience import counting
from audience.models import Account, Company, Contact, Profile
from imports.targets.people.parse import MAX_CONTACTS, Outcome, Record


class Writing:
    """`PeopleTarget`'s writes."""

    account: Account
    type: str
    rewrite: bool
    all_new: bool
    _companies: dict[str, int]

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
        else:
            self._create_generic(records, now)

    def _create_generic(self, records: list[Record], now: dt.datetime) -> None:
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
            self._update_generic([current[pid] for pid in ids], fields, now)
        Contact.objects.bulk_create(
            self._contacts([o.record for o in outcomes], now, only=new_contacts),
            batch_size=2000,
            ignore_conflicts=True,
        )

    def _update_generic(self, rows: list[dict], fields: list[str], now: dt.datetime) -> None:
        """Write `fields` of each row (a profile's values, its id as "pk") with bulk_update."""
        profiles = []
        for row in rows:
            profile = Profile(pk=row["pk"], modified_at=now)
            for key in fields:
                setattr(profile, key, row[key])
            profiles.append(profile)
        Profile.objects.bulk_update(profiles, [*fields, "modified_at"], batch_size=1000)
