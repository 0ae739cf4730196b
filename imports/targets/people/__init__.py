"""The people target: a row becomes a profile, matched to an existing one by its contacts (unique
per account) and its external id.

Rules, the same in analysis and import:
- a row needs a phone, an email or an external id; every value is validated;
- a row sharing a phone, email or external id with an earlier row of the file is rejected as a
  duplicate (naming that row); a row whose keys point to two different profiles is rejected;
- an empty cell never erases a stored value; "rewrite" sets the file's values, "keep" changes
  nothing on existing profiles; importing as customer promotes a lead (rewrite only); a customer
  is never demoted to a lead.

The target is written in four modules: `parse` (a row to a `Record`), `classify` (matching a chunk
against the database), `write` (creating and rewriting profiles) and `postgres` (the PostgreSQL
fast paths of the last two, each tested against the generic path in
tests/imports/test_people_postgres.py).
"""

from __future__ import annotations

from django.utils import timezone

from audience.models import Account, AttributeDefinition, AttributeType, ProfileType
from imports.targets.people.classify import Classifying
from imports.targets.people.parse import (  # noqa: F401 (the target's vocabulary, for callers)
    GENDERS,
    MAX_CONTACTS,
    REASONS,
    Outcome,
    Parsing,
    Record,
    RowRejected,
)
from imports.targets.people.postgres import PostgresPaths
from imports.targets.people.write import Writing


class PeopleTarget(Parsing, Classifying, Writing, PostgresPaths):
    reasons = REASONS

    def __init__(self, *, account: Account, mapping: list[str], options: dict | None = None):
        self.account = account
        # A date-time without an offset in the file is a wall time in the account's time zone, as
        # a date-time typed on a screen; the exports write an offset, so a file imports back as
        # the same moments.
        self.zone = account.tz
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
