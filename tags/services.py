"""Writes of tags. Other apps (imports, the API, communications) call these."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from audience.models import Account
from tags.models import ProfileTag, Tag

MAX_NAME = 256


def tag_get_or_create(*, account: Account, name: str) -> Tag:
    """The tag named `name` (matched regardless of case), created when missing."""
    name = name.strip()
    if not name:
        raise ValidationError("Enter a tag name.")
    if len(name) > MAX_NAME:
        raise ValidationError(f"A tag name has at most {MAX_NAME} characters.")
    existing = Tag.objects.for_account(account).filter(name__iexact=name).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            return Tag.objects.create(account=account, name=name)
    except IntegrityError:  # created meanwhile by someone else
        return Tag.objects.for_account(account).get(name__iexact=name)


def tags_add(*, account: Account, tags: Iterable[Tag], profile_ids: Iterable[int] | QuerySet) -> int:
    """Give every profile in `profile_ids` each of `tags`; returns how many links were new.
    Idempotent: links that exist are left alone."""
    ids = (
        list(profile_ids.values_list("pk", flat=True))
        if isinstance(profile_ids, QuerySet)
        else list(profile_ids)
    )
    now = timezone.now()
    created = 0
    for tag in tags:
        if tag.account_id != account.pk:
            raise ValidationError("That tag belongs to another account.")
        before = ProfileTag.objects.filter(tag=tag, profile_id__in=ids).count()
        ProfileTag.objects.bulk_create(
            [ProfileTag(account=account, profile_id=pid, tag=tag, created_at=now) for pid in ids],
            ignore_conflicts=True,
            batch_size=2000,
        )
        created += ProfileTag.objects.filter(tag=tag, profile_id__in=ids).count() - before
        Tag.objects.filter(pk=tag.pk).update(modified_at=now)
    return created
