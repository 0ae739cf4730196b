"""Tags: static labels on profiles (and companies), unique per account regardless of case."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from audience.jobs import Job
from audience.models import AccountScopedQuerySet


class Tag(models.Model):
    account = models.ForeignKey("audience.Account", on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=256)
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "account",
                Lower("name"),
                name="tag_name_unique_ci",
                violation_error_message="A tag with this name already exists in this account.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ProfileTag(models.Model):
    # No single-column indexes on profile and tag: profile_tag_unique starts with profile and
    # profile_tag_by_tag with tag, and every import tags each of its people (one more index each).
    account = models.ForeignKey("audience.Account", on_delete=models.CASCADE, related_name="+")
    profile = models.ForeignKey(
        "audience.Profile", on_delete=models.CASCADE, related_name="profile_tags", db_index=False
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="profile_tags", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["profile", "tag"], name="profile_tag_unique")]
        indexes = [
            # "has tag X / any of": profile ids of a tag, index-only; Tags screen counts.
            models.Index(fields=["tag", "profile"], name="profile_tag_by_tag"),
        ]

    def __str__(self) -> str:
        return f"{self.tag_id} on profile {self.profile_id}"


class CompanyTag(models.Model):
    account = models.ForeignKey("audience.Account", on_delete=models.CASCADE, related_name="+")
    company = models.ForeignKey("audience.Company", on_delete=models.CASCADE, related_name="company_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="company_tags")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["company", "tag"], name="company_tag_unique")]
        indexes = [models.Index(fields=["tag", "company"], name="company_tag_by_tag")]

    def __str__(self) -> str:
        return f"{self.tag_id} on company {self.company_id}"


class BulkAction(models.TextChoices):
    ADD = "add", "Add tags"
    REMOVE = "remove", "Remove tags"
    ADD_REMOVE = "add_remove", "Add and remove tags"


class TagBulkJob(Job):
    """ "Manage tags" on a People selection too large to change in the request.

    The selection is kept as JSON (`audience.selection.Selection.to_json()`) and resolved again by
    the worker; tags are kept by id. `last_profile_id` is the keyset cursor: every chunk of
    profiles (ordered by id) commits its tag changes together with the cursor, so a resumed job
    goes on after the last committed chunk and a re-run changes nothing twice."""

    selection = models.JSONField(default=dict)
    action = models.CharField(max_length=16, choices=BulkAction.choices, default=BulkAction.ADD)
    add_tag_ids = models.JSONField(default=list, blank=True)
    remove_tag_ids = models.JSONField(default=list, blank=True)
    last_profile_id = models.BigIntegerField(default=0)
    added = models.PositiveBigIntegerField(default=0)
    removed = models.PositiveBigIntegerField(default=0)

    class Meta(Job.Meta):
        verbose_name = "bulk tag change"

    def __str__(self) -> str:
        return f"{self.get_action_display()} on {self.total} profiles ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("tags:bulk_job", args=[self.pk])
