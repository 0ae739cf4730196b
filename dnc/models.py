"""Do Not Contact: entries, the accounts each applies to, and the audit trail.

An entry is one contact (an E.164 phone, a lower-cased email or a whole email domain) with an
optional sender and channel; blank means "every sender" / "every channel". The same
contact/sender/channel is one entry whose accounts are merged (`DncEntryAccount`).

`DncEntryAccount` repeats the entry's key (kind, value, sender, channel): the key never changes
(an entry is added or removed, never edited), and having it on the per-account row lets every
read (the enforcement check, the screen's sorts and filters) use one index of one table.
Who added it, how and when is kept per account too, so one account never sees another's
attribution.

`DncAudit` is written on every add and every removal and is never deleted, not even when the
entry or the account goes: it copies what it needs.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from audience.jobs import Job
from audience.models import Account


class Channel(models.TextChoices):
    SMS = "SMS", "SMS"
    MMS = "MMS", "MMS"
    EMAIL = "EMAIL", "Email"
    WHATSAPP = "WHATSAPP", "WhatsApp"
    VIBER = "VIBER", "Viber"
    RCS = "RCS", "RCS"
    VOICE = "VOICE", "Voice"
    PUSH = "PUSH", "Push notification"
    APPLE_MB = "APPLE_MB", "Apple Messages for Business"


class Kind(models.TextChoices):
    PHONE = "phone", "Phone"
    EMAIL = "email", "Email"
    DOMAIN = "domain", "Email domain"


class Source(models.TextChoices):
    MO = "MO", "Message from the end user"
    CAMPAIGN = "CAMPAIGN", "Campaign action"
    URL_OPT_OUT = "URL_OPT_OUT", "URL opt-out"
    CUSTOM = "CUSTOM", "Added manually"
    IMPORT = "IMPORT", "Import"
    API = "API", "API"


class How(models.TextChoices):
    UI = "ui", "Screen"
    API = "api", "API"
    IMPORT = "import", "Import"
    SOURCE = "source", "Automatically (from its source)"
    ADMIN = "admin", "Django admin"


class AuditAction(models.TextChoices):
    ADD = "add", "Added"
    REMOVE = "remove", "Removed"


class DncEntry(models.Model):
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.CharField(max_length=255)
    sender = models.CharField(max_length=100, blank=True, default="")
    channel = models.CharField(max_length=16, choices=Channel.choices, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    accounts = models.ManyToManyField(Account, through="DncEntryAccount", related_name="dnc_entries")

    class Meta:
        verbose_name = "Do Not Contact entry"
        verbose_name_plural = "Do Not Contact entries"
        constraints = [
            models.UniqueConstraint(fields=["value", "sender", "channel"], name="dnc_entry_unique"),
        ]

    def __str__(self) -> str:
        return " · ".join(part for part in (self.value, self.sender, self.channel) if part)


class DncEntryAccount(models.Model):
    """One entry in one account: the row the screen lists and the enforcement check reads."""

    # No single-column indexes on the foreign keys: `dnc_entry_account_unique` (entry, account) and
    # `dnc_check` (account, …) lead with them, and every index costs on each imported row.
    entry = models.ForeignKey(DncEntry, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    # No database constraint on the account and the user (the entry keeps its): each is checked
    # per row at commit, ~4 µs a row each — a fifth of an import's database time — for rows
    # that only `dnc.services` and the imports write, with accounts and users they just read.
    # Deleting an account or a user still cascades / sets null (Django does it, not the database).
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    # Copies of the entry's key, which never changes.
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.CharField(max_length=255)
    sender = models.CharField(max_length=100, blank=True, default="")
    channel = models.CharField(max_length=16, choices=Channel.choices, blank=True, default="")
    # How it arrived in this account.
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.CUSTOM)
    campaign = models.CharField(max_length=255, blank=True, default="")
    added_at = models.DateTimeField(default=timezone.now)
    # Unindexed: only a user's deletion looks rows up by it (a rare, one-off scan).
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        verbose_name = "account of an entry"
        constraints = [
            models.UniqueConstraint(fields=["entry", "account"], name="dnc_entry_account_unique"),
        ]
        indexes = [
            # Enforcement (value = ANY(batch), channel/sender in ('', x)) answered index-only;
            # also the sort by contact and the "starts with" search.
            models.Index(fields=["account", "value", "channel", "sender"], name="dnc_check"),
            # The screen's other sorts (ties broken by id through an incremental sort).
            models.Index(fields=["account", "added_at"], name="dnc_account_added"),
            models.Index(fields=["account", "sender"], name="dnc_account_sender"),
            models.Index(fields=["account", "channel"], name="dnc_account_channel"),
            models.Index(fields=["account", "source"], name="dnc_account_source"),
        ]

    def __str__(self) -> str:
        return f"{self.entry} in {self.account_id}"


class DncAudit(models.Model):
    """An add or a removal, per account. Never deleted; copies the entry's data."""

    action = models.CharField(max_length=8, choices=AuditAction.choices)
    at = models.DateTimeField(default=timezone.now)
    # Not a constraint: the trail outlives the account and the entry.
    # Indexed by `dnc_audit_account_id` (account, id), which the trail is read through.
    account = models.ForeignKey(
        Account,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    account_name = models.CharField(max_length=100)
    entry_id_copy = models.BigIntegerField(null=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.CharField(max_length=255)
    sender = models.CharField(max_length=100, blank=True, default="")
    channel = models.CharField(max_length=16, blank=True, default="")
    source = models.CharField(max_length=16, choices=Source.choices)
    campaign = models.CharField(max_length=255, blank=True, default="")
    how = models.CharField(max_length=8, choices=How.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    username = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        verbose_name = "Do Not Contact audit record"
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["account", "id"], name="dnc_audit_account_id"),
            models.Index(fields=["value"], name="dnc_audit_value"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.value} ({self.account_name})"


class DncRemoveJob(Job):
    """ "Remove all N matching the filter": the screen's filter kept on the row, worked through in
    chunks by a task (every removal audited, as one by one). Entries added after the job started
    are left alone: the person confirmed the N they saw."""

    filters = models.JSONField(default=dict, blank=True)  # the screen's querystring {name: [values]}
    # The reader's other accounts when the job started (what the "Account" filter may name).
    other_account_ids = models.JSONField(default=list, blank=True)

    class Meta(Job.Meta):
        verbose_name = "Do Not Contact removal job"
        indexes = [models.Index(fields=["account", "-id"], name="dnc_remove_job_account")]

    def __str__(self) -> str:
        return f"Removal of {self.total} Do Not Contact entries"

    def get_absolute_url(self) -> str:
        return reverse("dnc:remove_job", args=[self.pk])
