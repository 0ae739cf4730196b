"""The People quick filter by tags: `?tag=VIP&tag=Newsletter&tag_match=any|all`.

Names are matched regardless of case. "any" (the default) keeps profiles with at least one of the
tags, "all" those with every one of them; each tag is one `pk IN (profile ids of that tag)` semi-join
served by the (tag, profile) index.
"""

from __future__ import annotations

from django import forms
from django.db.models import Q, QuerySet

from audience.filters import QuickFilter
from tags import selectors
from tags.models import Tag

MATCH_CHOICES = [("any", "Any"), ("all", "All")]
MATCH_HELP = "Any: people with at least one of the chosen tags. All: people with every one of them."


class TagNamesField(forms.MultipleChoiceField):
    """The account's tag names; cleans to the tag ids (names matched regardless of case)."""

    def __init__(self, *, account, **kwargs) -> None:
        self.account = account
        names = list(Tag.objects.filter(account=account).order_by("name").values_list("name", flat=True))
        super().__init__(choices=[(n, n) for n in names], **kwargs)

    def valid_value(self, value) -> bool:
        return str(value).lower() in {str(k).lower() for k, _ in self.choices}

    def clean(self, value) -> list[int]:
        names = super().clean(value)
        if not names:
            return []
        by_name = Q()
        for name in names:
            by_name |= Q(name__iexact=name)
        return sorted(Tag.objects.filter(by_name, account=self.account).values_list("pk", flat=True))


def _fields(account) -> dict[str, forms.Field]:
    if account is None:
        return {}
    return {
        "tag": TagNamesField(
            account=account,
            required=False,
            label="Tags",
            widget=forms.SelectMultiple(attrs={"size": 3}),
        ),
        "tag_match": forms.ChoiceField(
            choices=MATCH_CHOICES,
            required=False,
            initial="any",
            label="Tag match",
            help_text=MATCH_HELP,
            widget=forms.Select(attrs={"title": MATCH_HELP, "aria-label": f"Tag match. {MATCH_HELP}"}),
        ),
    }


def _apply(queryset: QuerySet, data: dict) -> QuerySet:
    tag_ids = data.get("tag") or []  # the account's tags: TagNamesField cleaned them
    if not tag_ids:
        return queryset
    if data.get("tag_match") == "all":
        for tag_id in tag_ids:
            links = selectors.profile_tag_links(tag_ids=[tag_id])
            queryset = queryset.filter(pk__in=links.values("profile_id"))
        return queryset
    return queryset.filter(pk__in=selectors.profile_tag_links(tag_ids=tag_ids).values("profile_id"))


TAGS = QuickFilter(name="tags", fields=_fields, apply=_apply)
