"""The People domain: accounts and their members, profiles, contacts, companies, attribute and
event definitions, events and in-app notifications.

Every domain row carries its account. Reads go through `for_account()` on the row's manager (or
through `audience.access` in views), so another account's row is never seen.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Upper
from django.urls import reverse
from django.utils import timezone


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone name such as Europe/London.")


class AccountScopedQuerySet(models.QuerySet):
    def for_account(self, account: Account) -> AccountScopedQuerySet:
        return self.filter(account=account)


class Account(models.Model):
    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def today(self):
        """Today's date in the account's time zone: relative date rules count from it."""
        return timezone.now().astimezone(self.tz).date()


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MARKETER = "marketer", "Marketer"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MARKETER)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "account"], name="membership_unique")]
        ordering = ["account__name"]

    def __str__(self) -> str:
        return f"{self.user} in {self.account} ({self.role})"

    @property
    def can_edit(self) -> bool:
        return self.role in (Role.ADMIN, Role.MARKETER)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


class Company(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="companies")
    name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=256, blank=True, default="")
    domain = models.CharField(max_length=255, blank=True, default="")
    country = models.CharField(max_length=50, blank=True, default="")
    industry = models.CharField(max_length=255, blank=True, default="")
    notes = models.TextField(max_length=1023, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(auto_now=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "account",
                Lower("name"),
                name="company_name_unique_ci",
                violation_error_message="A company with this name already exists in this account.",
            ),
        ]
        indexes = [
            # Companies list: search by name prefix, ordered by name.
            models.Index("account", Upper("name"), name="company_account_uname"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("audience:company", args=[self.pk])


class ProfileType(models.TextChoices):
    LEAD = "lead", "Lead"
    CUSTOMER = "customer", "Customer"


class Gender(models.TextChoices):
    MALE = "male", "Male"
    FEMALE = "female", "Female"


class Profile(models.Model):
    """A person. Empty text is stored as "" (never NULL) so that "is empty" has one meaning."""

    # Covered by profile_account_id and the other (account, …) indexes.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="profiles", db_index=False)
    external_id = models.CharField(max_length=256, blank=True, default="")
    type = models.CharField(max_length=16, choices=ProfileType.choices, default=ProfileType.LEAD)
    first_name = models.CharField(max_length=255, blank=True, default="")
    middle_name = models.CharField(max_length=50, blank=True, default="")
    last_name = models.CharField(max_length=255, blank=True, default="")
    gender = models.CharField(max_length=8, choices=Gender.choices, blank=True, default="")
    birth_date = models.DateField(null=True, blank=True)
    city = models.CharField(max_length=50, blank=True, default="")
    country = models.CharField(max_length=50, blank=True, default="")
    address = models.CharField(max_length=256, blank=True, default="")
    preferred_language = models.CharField(max_length=16, blank=True, default="")
    # The FK's own index serves the company card (its profiles) and company counts.
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="profiles"
    )
    # Custom attributes, {name: value}, typed by AttributeDefinition: numbers and booleans as JSON
    # scalars, dates as "YYYY-MM-DD", date-times as ISO 8601 in UTC.
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_id"],
                condition=~Q(external_id=""),
                name="profile_external_id_unique",
                violation_error_message="A person with this external ID already exists in this account.",
            ),
        ]
        indexes = [
            # People list default order (newest first) and keyset paging: WHERE account ORDER BY id.
            models.Index(fields=["account", "id"], name="profile_account_id"),
            # The case-insensitive name search and prefix rules use `profile_u{first,last}_prefix`
            # (migration 0005), city/country filters `profile_rule_u{city,country}` (segments 0002):
            # text_pattern_ops expression indexes that serve both `=` and `LIKE 'x%'` on PostgreSQL.
            # The People list's sorts, keyset paged on (column, id): one index each, so every page
            # is an index range scan however deep. They also serve the city and created filters.
            models.Index(fields=["account", "city", "id"], name="profile_sort_city"),
            models.Index(fields=["account", "created_at", "id"], name="profile_sort_created"),
            models.Index(fields=["account", "last_name", "first_name", "id"], name="profile_sort_name"),
            models.Index(fields=["account", "country", "id"], name="profile_sort_country"),
            models.Index(fields=["account", "type", "id"], name="profile_sort_type"),
            # Relative date rules on the birthday.
            models.Index(fields=["account", "birth_date"], name="profile_account_birth"),
        ]

    def __str__(self) -> str:
        return self.display_name

    def get_absolute_url(self) -> str:
        return reverse("audience:profile", args=[self.pk])

    @property
    def display_name(self) -> str:
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return name or self.external_id or f"Profile #{self.pk}"


class ContactKind(models.TextChoices):
    PHONE = "phone", "Phone"
    EMAIL = "email", "Email"


class Contact(models.Model):
    """A phone (E.164) or an email (lower-cased) of a profile: the merge key of imports and the key
    of Do Not Contact. Unique per account, so one destination belongs to one profile."""

    # Covered by contact_unique (account first) and contact_profile (profile first).
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts", db_index=False)
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="contacts", db_index=False)
    kind = models.CharField(max_length=8, choices=ContactKind.choices)
    value = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "value"], name="contact_unique"),
        ]
        indexes = [
            # Profile card and list: the contacts of these profiles.
            models.Index(fields=["profile", "kind"], name="contact_profile"),
        ]

    def __str__(self) -> str:
        return self.value


class AttributeType(models.TextChoices):
    TEXT = "text", "Text"
    INTEGER = "integer", "Whole number"
    DECIMAL = "decimal", "Decimal number"
    BOOLEAN = "boolean", "True/false"
    DATE = "date", "Date"
    DATETIME = "datetime", "Date time"


class AttributeDefinition(models.Model):
    """A custom attribute. Its type never changes; one in use is never deleted."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="attribute_definitions")
    name = models.CharField(max_length=256)
    type = models.CharField(max_length=16, choices=AttributeType.choices)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "account",
                Lower("name"),
                name="attribute_name_unique_ci",
                violation_error_message="An attribute with this name already exists in this account.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class EventDefinition(models.Model):
    """An event name and the types of its properties ({name: AttributeType})."""

    APP_LAUNCH = "App Launch"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="event_definitions")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    properties = models.JSONField(default=dict, blank=True)
    is_predefined = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "account",
                Lower("name"),
                name="event_definition_unique_ci",
                violation_error_message="An event with this name already exists in this account.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Event(models.Model):
    # No single-column FK indexes: event_rule starts with account and event_timeline with profile,
    # and 10M rows make every extra index a cost on each insert.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="events", db_index=False)
    name = models.CharField(max_length=100)
    occurred_at = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    # Idempotency key of the events API; "" when the sender gave none.
    event_id = models.CharField(max_length=36, blank=True, default="")

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "event_id"],
                condition=~Q(event_id=""),
                name="event_id_unique",
                violation_error_message="An event with this event ID already exists in this account.",
            ),
        ]
        indexes = [
            # Event clauses of rules: WHERE account AND name AND occurred_at in a window,
            # GROUP BY profile_id — served index-only (see docs/performance.md).
            models.Index(fields=["account", "name", "occurred_at", "profile"], name="event_rule"),
            # Profile card timeline, newest first, optionally by name.
            models.Index(fields=["profile", "occurred_at"], name="event_timeline"),
        ]

    def __str__(self) -> str:
        return f"{self.name} at {self.occurred_at:%Y-%m-%d %H:%M}"


class EventSummary(models.Model):
    """Per profile and event name: how many events, the first and the last — what most event
    clauses ask ("performed App Launch in the last 30 days" is `last_at >= now - 30 days`, "Email
    Open exactly 2 times" is `count = 2`), answered from one row per profile instead of grouping
    millions of events (docs/rules.md, "How counts stay fast").

    Kept by database triggers on the event table (audience.summary), so every write — API, admin,
    seeding, a cascade, raw SQL — keeps it exact; nothing in Python writes it.
    """

    pk = models.CompositePrimaryKey("profile", "name")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="+", db_index=False)
    name = models.CharField(max_length=100)
    count = models.IntegerField()
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    class Meta:
        indexes = [
            # Counts (any time) and every other test on one event name, index-only.
            models.Index(
                fields=["account", "name", "count"],
                include=["profile", "first_at", "last_at"],
                name="event_summary_count",
            ),
            # "Performed within the last …": a range of last_at.
            models.Index(
                fields=["account", "name", "last_at"], include=["profile"], name="event_summary_last"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ×{self.count}"


class Notification(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="notifications")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    message = models.CharField(max_length=500)
    url = models.CharField(max_length=500, blank=True, default="")
    level = models.CharField(max_length=16, default="info")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The bell: unread notifications of this user in this account.
            models.Index(fields=["user", "account", "read_at"], name="notification_unread"),
        ]

    def __str__(self) -> str:
        return self.message


class ApiScope(models.TextChoices):
    READ = "read", "Read only"
    READ_WRITE = "read_write", "Read and write"


class ApiKey(models.Model):
    """A key for `Authorization: App <key>`. Only a SHA-256 of the key is stored; the key itself is
    shown once, when it is created. `prefix` (the first characters) identifies it in lists."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=16, choices=ApiScope.choices, default=ApiScope.READ_WRITE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class TaskOutbox(models.Model):
    """A task to queue, written in the same transaction as the job row it works on.

    If the broker is unreachable when the transaction commits, the row stays here and the
    beat task `audience.task_outbox_flush_task` sends it when the broker is back: a job is never
    lost between the database and the queue.
    """

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.task_name}{tuple(self.args)}"
