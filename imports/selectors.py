"""Reads of imports and exports: the history pages (newest first, keyset pages)."""

from __future__ import annotations

from django.db.models import QuerySet

from audience.models import Account, Membership, Role
from imports.models import ExportJob, ImportJob

PAGE = 50


def _page(queryset: QuerySet, before: str | None) -> tuple[list, int | None]:
    if before and before.isdigit():
        queryset = queryset.filter(pk__lt=int(before))
    rows = list(queryset.order_by("-pk")[: PAGE + 1])
    return rows[:PAGE], (rows[PAGE - 1].pk if len(rows) > PAGE else None)


def import_jobs_page(*, account: Account, before: str | None = None) -> tuple[list[ImportJob], int | None]:
    return _page(ImportJob.objects.filter(account=account).select_related("created_by"), before)


def export_jobs_page(*, account: Account, before: str | None = None) -> tuple[list[ExportJob], int | None]:
    return _page(ExportJob.objects.filter(account=account).select_related("created_by"), before)


def editable_accounts(*, user) -> list[tuple[int, str]]:
    """(id, name) of the accounts where `user` may add Do Not Contact entries."""
    return list(
        Membership.objects.filter(user=user, role__in=(Role.ADMIN, Role.MARKETER))
        .order_by("account__name")
        .values_list("account_id", "account__name")
    )
