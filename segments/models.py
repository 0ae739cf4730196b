"""Saved segments (a name and a rule) and their daily sizes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils import timezone

from audience.models import AccountScopedQuerySet


class Segment(models.Model):
    """A dynamic segment: the account's profiles matching `rule` right now. Predefined segments
    (`predefined` holds their key) are created by the app and can be used but not changed."""

    account = models.ForeignKey("audience.Account", on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True, default="")
    rule = models.JSONField(default=dict)
    predefined = models.CharField(max_length=32, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                "account",
                Upper("name"),
                name="segment_name_unique_ci",
                violation_error_message="A segment with this name already exists in this account.",
            ),
        ]
        indexes = [
            # The list's sorts and search by name prefix.
            models.Index(fields=["account", "modified_at"], name="segment_account_modified"),
            models.Index(fields=["account", "created_at"], name="segment_account_created"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("segments:detail", args=[self.pk])

    @property
    def is_predefined(self) -> bool:
        return bool(self.predefined)


class SegmentSize(models.Model):
    """How many profiles a segment held on a day (the chart on the segment page)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="sizes")
    date = models.DateField()
    size = models.PositiveIntegerField(null=True, blank=True)  # None: counting timed out

    class Meta:
        ordering = ["segment", "date"]
        constraints = [models.UniqueConstraint(fields=["segment", "date"], name="segment_size_unique")]

    def __str__(self) -> str:
        return f"{self.segment_id} on {self.date}: {self.size}"
