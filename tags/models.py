"""Tags: static labels on profiles (and companies), unique per account regardless of case."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from audience.models import AccountScopedQuerySet


class Tag(models.Model):
    account = models.ForeignKey("audience.Account", on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=256)
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint("account", Lower("name"), name="tag_name_unique_ci")]

    def __str__(self) -> str:
        return self.name


class ProfileTag(models.Model):
    account = models.ForeignKey("audience.Account", on_delete=models.CASCADE, related_name="+")
    profile = models.ForeignKey("audience.Profile", on_delete=models.CASCADE, related_name="profile_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="profile_tags")
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
