"""Writes of tags. Other apps (imports, the API, communications) call these.

Names are unique per account regardless of case. A tag that something uses (see `audience.usage`)
can't be deleted, merged away or renamed: segments name their tags in their rules, so a rename
would silently change who they hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from audience import counting
from audience.models import Account, Company, Profile
from audience.text import text_unstorable
from audience.usage import TAG, usage_list
from tags.models import CompanyTag, ProfileTag, Tag

MAX_NAME = 256
CHUNK = 5000  # profile ids per statement: bounded memory and parameter counts on both databases


def tag_name_clean(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("Enter a tag name.")
    if reason := text_unstorable(name):
        raise ValidationError(f"The tag name {reason}.", code="unstorable")
    if len(name) > MAX_NAME:
        raise ValidationError(f"A tag name has at most {MAX_NAME} characters.")
    return name


def _name_taken(account: Account, name: str, *, exclude: Tag | None = None) -> Tag | None:
    found = Tag.objects.for_account(account).filter(name__iexact=name)
    if exclude is not None:
        found = found.exclude(pk=exclude.pk)
    return found.first()


def tag_get_or_create(*, account: Account, name: str) -> Tag:
    """The tag named `name` (matched regardless of case), created when missing."""
    name = tag_name_clean(name)
    existing = _name_taken(account, name)
    if existing:
        return existing
    try:
        with transaction.atomic():
            tag = Tag.objects.create(account=account, name=name)
            counting.data_changed(account_ids=[account.pk])
            return tag
    except IntegrityError:  # created meanwhile by someone else
        return Tag.objects.for_account(account).get(name__iexact=name)


def tags_get_or_create(*, account: Account, names: Iterable[str]) -> list[Tag]:
    """The tags named `names`, created when missing (in the order given, without repeats)."""
    found: dict[int, Tag] = {}
    for name in names:
        tag = tag_get_or_create(account=account, name=name)
        found.setdefault(tag.pk, tag)
    return list(found.values())


def tag_create(*, account: Account, name: str) -> Tag:
    """A new tag; refuses a name the account already has (regardless of case)."""
    name = tag_name_clean(name)
    existing = _name_taken(account, name)
    if existing:
        raise ValidationError(f"A tag named “{existing.name}” already exists.")
    try:
        with transaction.atomic():
            tag = Tag.objects.create(account=account, name=name)
            counting.data_changed(account_ids=[account.pk])
            return tag
    except IntegrityError:
        raise ValidationError(f"A tag named “{name}” already exists.") from None


def _refuse_if_used(tag: Tag, doing: str) -> None:
    uses = usage_list(TAG, tag)
    if uses:
        raise ValidationError(f"“{tag.name}” can't be {doing}: it is used by {', '.join(uses)}.")


def tag_rename(*, tag: Tag, name: str) -> Tag:
    name = tag_name_clean(name)
    if name == tag.name:
        return tag
    existing = _name_taken(tag.account, name, exclude=tag)
    if existing:
        raise ValidationError(f"A tag named “{existing.name}” already exists. Merge the two tags instead.")
    if name.lower() != tag.name.lower():  # a change of case only still matches every rule
        _refuse_if_used(tag, "renamed")
    tag.name = name
    tag.modified_at = timezone.now()
    try:
        with transaction.atomic():
            tag.save(update_fields=["name", "modified_at"])
            counting.data_changed(account_ids=[tag.account_id])
    except IntegrityError:
        raise ValidationError(f"A tag named “{name}” already exists.") from None
    return tag


def _links_copy(*, source: Tag, target: Tag) -> None:
    """Give everything tagged `source` the tag `target` too: one INSERT … SELECT per table, which
    both PostgreSQL and SQLite run without bringing a row into Python."""
    now = timezone.now()
    with connection.cursor() as cursor:
        for model, column in ((ProfileTag, "profile_id"), (CompanyTag, "company_id")):
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(
                f"INSERT INTO {table} (account_id, {column}, tag_id, created_at) "  # noqa: S608
                f"SELECT account_id, {column}, %s, %s FROM {table} WHERE tag_id = %s "
                f"ON CONFLICT ({column}, tag_id) DO NOTHING",
                [target.pk, now, source.pk],
            )
    counting.data_changed(account_ids=[target.account_id])


def tag_duplicate(*, tag: Tag, name: str) -> Tag:
    """A new tag named `name` on the same profiles and companies as `tag`."""
    with transaction.atomic():
        copy = tag_create(account=tag.account, name=name)
        _links_copy(source=tag, target=copy)
    return copy


def tag_merge(*, source: Tag, target: Tag) -> Tag:
    """Move every profile and company of `source` to `target`, then delete `source`."""
    if source.account_id != target.account_id:
        raise ValidationError("Both tags must belong to this account.")
    if source.pk == target.pk:
        raise ValidationError("Choose another tag to merge into.")
    _refuse_if_used(source, "merged away")
    with transaction.atomic():
        _links_copy(source=source, target=target)
        _tags_delete_rows([source.pk])
        Tag.objects.filter(pk=target.pk).update(modified_at=timezone.now())
    target.refresh_from_db()
    return target


def _tags_delete_rows(tag_ids: Sequence[int]) -> None:
    # The links first, each one DELETE (links have no dependants, so the ORM deletes them without
    # loading them): a tag on a million profiles is deleted without a million rows in memory.
    account_ids = set(Tag.objects.filter(pk__in=tag_ids).values_list("account_id", flat=True))
    ProfileTag.objects.filter(tag_id__in=tag_ids).delete()
    CompanyTag.objects.filter(tag_id__in=tag_ids).delete()
    Tag.objects.filter(pk__in=tag_ids).delete()
    counting.data_changed(account_ids=account_ids)


def tags_delete(*, account: Account, tags: Iterable[Tag]) -> int:
    """Delete `tags` (all or none): refused, naming what uses them, when any of them is in use."""
    tags = list(tags)
    if any(tag.account_id != account.pk for tag in tags):
        raise ValidationError("That tag belongs to another account.")
    refusals = []
    for tag in tags:
        uses = usage_list(TAG, tag)
        if uses:
            refusals.append(f"“{tag.name}” is used by {', '.join(uses)}")
    if refusals:
        raise ValidationError(f"Nothing was deleted: {'; '.join(refusals)}.")
    with transaction.atomic():
        _tags_delete_rows([tag.pk for tag in tags])
    return len(tags)


def _ids(profile_ids: Iterable[int] | QuerySet) -> list[int]:
    if isinstance(profile_ids, QuerySet):
        return list(profile_ids.values_list("pk", flat=True))
    return sorted({int(pk) for pk in profile_ids})


def _check_account(account: Account, tags: Sequence[Tag]) -> None:
    if any(tag.account_id != account.pk for tag in tags):
        raise ValidationError("That tag belongs to another account.")


def links_insert(*, account_id: int, tag_ids: Sequence[int], profile_ids: Sequence[int]) -> int:
    """Insert the (profile, tag) links that are missing; returns how many were new. The caller
    makes sure the ids are the account's. On PostgreSQL one INSERT … SELECT unnest … ON CONFLICT DO
    NOTHING, whose row count is the number inserted; elsewhere bulk_create between two counts."""
    if not tag_ids or not profile_ids:
        return 0
    now = timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {ProfileTag._meta.db_table} (account_id, profile_id, tag_id, created_at) "  # noqa: S608
                "SELECT %s, p, t, %s FROM unnest(%s::bigint[]) AS p CROSS JOIN unnest(%s::bigint[]) AS t "
                "ON CONFLICT (profile_id, tag_id) DO NOTHING",
                [account_id, now, list(profile_ids), list(tag_ids)],
            )
            return cursor.rowcount
    links = ProfileTag.objects.filter(tag_id__in=tag_ids, profile_id__in=profile_ids)
    before = links.count()
    ProfileTag.objects.bulk_create(
        [
            ProfileTag(account_id=account_id, profile_id=p, tag_id=t, created_at=now)
            for t in tag_ids
            for p in profile_ids
        ],
        ignore_conflicts=True,
        batch_size=2000,
    )
    return links.count() - before


def tags_add(*, account: Account, tags: Iterable[Tag], profile_ids: Iterable[int] | QuerySet) -> int:
    """Give every profile in `profile_ids` each of `tags`; returns how many links were new.
    Idempotent: links that exist are left alone. Ids of another account's profiles are ignored."""
    tags = list(tags)
    _check_account(account, tags)
    ids = _ids(profile_ids)
    created = 0
    for start in range(0, len(ids), CHUNK):
        chunk = list(
            Profile.objects.for_account(account)
            .filter(pk__in=ids[start : start + CHUNK])
            .values_list("pk", flat=True)
        )
        created += links_insert(account_id=account.pk, tag_ids=[t.pk for t in tags], profile_ids=chunk)
    if created:
        Tag.objects.filter(pk__in=[tag.pk for tag in tags]).update(modified_at=timezone.now())
        counting.data_changed(account_ids=[account.pk])
    return created


def tags_remove(*, account: Account, tags: Iterable[Tag], profile_ids: Iterable[int] | QuerySet) -> int:
    """Take `tags` off every profile in `profile_ids`; returns how many links were removed."""
    tags = list(tags)
    _check_account(account, tags)
    ids = _ids(profile_ids)
    removed = 0
    for start in range(0, len(ids), CHUNK):
        removed += ProfileTag.objects.filter(
            account=account, tag__in=tags, profile_id__in=ids[start : start + CHUNK]
        ).delete()[0]
    if removed:
        Tag.objects.filter(pk__in=[tag.pk for tag in tags]).update(modified_at=timezone.now())
        counting.data_changed(account_ids=[account.pk])
    return removed


def profile_tag_add(*, profile: Profile, name: str) -> Tag:
    """Tag one profile by name; the tag is created when the account has none of that name."""
    tag = tag_get_or_create(account=profile.account, name=name)
    tags_add(account=profile.account, tags=[tag], profile_ids=[profile.pk])
    return tag


def profile_tag_remove(*, profile: Profile, tag: Tag) -> None:
    tags_remove(account=profile.account, tags=[tag], profile_ids=[profile.pk])


def company_tag_add(*, company: Company, name: str) -> Tag:
    tag = tag_get_or_create(account=company.account, name=name)
    _, created = CompanyTag.objects.get_or_create(
        company=company, tag=tag, defaults={"account": company.account}
    )
    if created:
        Tag.objects.filter(pk=tag.pk).update(modified_at=timezone.now())
        counting.data_changed(account_ids=[company.account_id])
    return tag


def company_tag_remove(*, company: Company, tag: Tag) -> None:
    if CompanyTag.objects.filter(company=company, tag=tag).delete()[0]:
        Tag.objects.filter(pk=tag.pk).update(modified_at=timezone.now())
        counting.data_changed(account_ids=[company.account_id])
