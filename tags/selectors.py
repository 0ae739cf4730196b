"""Reads of tags: the Tags screen's page, the People tag column, the profile and company panels."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db import OperationalError, connection, transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Lower

from audience.models import Account, Company, Profile
from audience.usage import TAG, usage_list
from tags.models import CompanyTag, ProfileTag, Tag, TagBulkJob

PAGE_SIZE = 50
SORTS: dict[str, tuple[Any, ...]] = {
    "name": (Lower("name").asc(), "pk"),
    "-name": (Lower("name").desc(), "-pk"),
    "created": ("created_at", "pk"),
    "-created": ("-created_at", "-pk"),
    "updated": ("modified_at", "pk"),
    "-updated": ("-modified_at", "-pk"),
}


@dataclass
class TagRow:
    tag: Tag
    persons: int | None = 0  # None: counting took too long
    companies: int | None = 0
    used_by: list[str] = field(default_factory=list)


def profile_tag_links(
    *,
    account: Account | None = None,
    tag_ids: Iterable[int] | None = None,
    names: Iterable[str] | None = None,
) -> QuerySet:
    """Profile–tag links: "the profiles having tag X" everywhere (the People tag filter, the rule
    engine's `tags`, the API's person filter, a broadcast's audience) is these rows' `profile_id`,
    read as `pk IN (…)` or `EXISTS (…)` by the caller; the (tag, profile) index serves both.
    Narrowed to the account's links (`account`), to tags by id (`tag_ids`, already the account's
    when they come from a cleaned form) and to tags by name, regardless of case (`names`); with
    neither tag_ids nor names, every link of the account (the profiles with any tag)."""
    links = ProfileTag.objects.all()
    if account is not None:
        links = links.filter(account=account)
    if tag_ids is not None:
        links = links.filter(tag_id__in=list(tag_ids))
    if names is not None:
        by_name = Q(pk__in=[])
        for name in names:
            by_name |= Q(name__iexact=name)
        tags = Tag.objects.filter(by_name)
        links = links.filter(tag__in=tags.filter(account=account) if account is not None else tags)
    return links.order_by()


def tags_for_account(account: Account) -> QuerySet:
    return Tag.objects.for_account(account)


def tags_search(*, account: Account, q: str = "", sort: str = "name") -> QuerySet:
    tags = tags_for_account(account).select_related("account")  # usage checkers read tag.account
    if q.strip():
        tags = tags.filter(name__icontains=q.strip())
    return tags.order_by(*SORTS.get(sort, SORTS["name"]))


def tags_page(*, account: Account, q: str = "", sort: str = "name", page: int | str = 1) -> Page:
    """One page of the account's tags (tags are few: Django's paginator is fine here)."""
    return Paginator(tags_search(account=account, q=q, sort=sort), PAGE_SIZE).get_page(page)


def _grouped_counts(model, tag_ids: list[int]) -> dict[int, int] | None:
    """{tag id: links} in one grouped query over the (tag, …) index, or None when PostgreSQL took
    longer than COUNT_TIMEOUT_MS (the screen then says "many")."""
    query = model.objects.filter(tag_id__in=tag_ids).values_list("tag_id").annotate(n=Count("*")).order_by()
    if connection.vendor != "postgresql":
        return dict(query)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = %s", [int(settings.COUNT_TIMEOUT_MS)])
            return dict(query)
    except OperationalError as error:
        if "statement timeout" in str(error) or "canceling statement" in str(error):
            return None
        raise


def tag_stats(*, account: Account, tag_ids: Iterable[int]) -> list[TagRow]:
    """Persons, companies and "Currently used" for a page of tags: one grouped query per table
    for the whole page, never one per row. The Tags screen loads it after the page (htmx)."""
    tags = list(tags_for_account(account).select_related("account").filter(pk__in=list(tag_ids)[:PAGE_SIZE]))
    ids = sorted(tag.pk for tag in tags)
    # Not cached: someone who just tagged people expects to see the new count.
    persons, companies = _grouped_counts(ProfileTag, ids), _grouped_counts(CompanyTag, ids)
    return [
        TagRow(
            tag=tag,
            persons=persons.get(tag.pk, 0) if persons is not None else None,
            companies=companies.get(tag.pk, 0) if companies is not None else None,
            used_by=usage_list(TAG, tag),
        )
        for tag in tags
    ]


def tag_names_for_profiles(profile_ids: Iterable[int]) -> dict[int, list[str]]:
    """The tag names of each profile (sorted, regardless of case), for the People list's column:
    one query for the whole page."""
    names: dict[int, list[str]] = {}
    links = (
        ProfileTag.objects.filter(profile_id__in=list(profile_ids))
        .values_list("profile_id", "tag__name")
        .order_by()
    )
    for profile_id, name in links:
        names.setdefault(profile_id, []).append(name)
    return {pid: sorted(found, key=str.lower) for pid, found in names.items()}


def profile_tags(profile: Profile) -> list[Tag]:
    return list(Tag.objects.filter(profile_tags__profile=profile).order_by("name"))


def company_tags(company: Company) -> list[Tag]:
    return list(Tag.objects.filter(company_tags__company=company).order_by("name"))


def tag_names(account: Account) -> list[str]:
    return list(tags_for_account(account).order_by("name").values_list("name", flat=True))


def bulk_jobs_recent(*, account: Account, limit: int = 5) -> list[TagBulkJob]:
    return list(TagBulkJob.objects.filter(account=account).order_by("-created_at", "-id")[:limit])


def bulk_job_tags(job: TagBulkJob) -> dict[str, list[Tag]]:
    tags = Tag.objects.filter(account_id=job.account_id).order_by("name")
    return {
        "add_tags": list(tags.filter(pk__in=job.add_tag_ids)),
        "remove_tags": list(tags.filter(pk__in=job.remove_tag_ids)),
    }
