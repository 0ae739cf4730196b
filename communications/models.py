"""Broadcasts and flows: the targets of "Add to communication" (stand-ins for Infobip's Broadcast
and Moments), and the message rows a broadcast leaves, one per recipient.

An audience (a broadcast's recipients, a flow's Predefined Audience entry point) is a set of
`AudienceItem` rows: tags, segments and companies by id, and People selections as JSON. Ids are
plain integers, not foreign keys, so a communication outlives what it once named (a deleted tag
simply matches nobody) and the lock checks ("is this tag used by an active flow?") are one
indexed lookup on (kind, object_id).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from audience.jobs import Job, JobStatus
from audience.models import AccountScopedQuerySet
from dnc.models import Channel

# The channels a broadcast can go out on, and the contact kind that reaches a person on each.
CHANNEL_CONTACT: dict[str, str] = {
    Channel.SMS: "phone",
    Channel.MMS: "phone",
    Channel.WHATSAPP: "phone",
    Channel.VIBER: "phone",
    Channel.RCS: "phone",
    Channel.VOICE: "phone",
    Channel.EMAIL: "email",
}
BROADCAST_CHANNELS = [(value, label) for value, label in Channel.choices if value in CHANNEL_CONTACT]


PHONE_CHANNELS = frozenset(channel for channel, kind in CHANNEL_CONTACT.items() if kind == "phone")


class Sender(models.Model):
    """Who a message comes from, kept by the account's admins (Configuration › Senders): an email
    From address (with its display name as `label`) or a phone channel's sender name or number.
    A broadcast picks one of its account's senders of its channel and keeps a copy of `address`
    (so Do Not Contact entries for that sender apply and a sent broadcast keeps what it used)."""

    account = models.ForeignKey("audience.Account", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16, choices=BROADCAST_CHANNELS)
    address = models.CharField(max_length=100)
    label = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["channel", "address"]
        constraints = [
            models.UniqueConstraint(fields=["account", "channel", "address"], name="sender_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.label} <{self.address}>" if self.label else self.address


class Broadcast(Job):
    """A one-off message to an audience. A draft until someone sends it (`queued_at`); then the
    job fields (status, total, processed) track the send and the counters its outcomes.

    Content is per channel: an email has `subject`, `text` and `html`; a phone channel `text`.
    All three are templates with the profile's merge fields (communications.content)."""

    name = models.CharField(max_length=255)
    channel = models.CharField(max_length=16, choices=BROADCAST_CHANNELS)
    sender = models.CharField(max_length=100, blank=True, default="")
    # The sender's display name when it was chosen (an email's From name).
    sender_label = models.CharField(max_length=100, blank=True, default="")
    subject = models.CharField(max_length=255, blank=True, default="")
    text = models.TextField(max_length=4000)
    html = models.TextField(max_length=100_000, blank=True, default="")
    # WhatsApp outside its 24-hour customer-service window (communications.whatsapp): an approved
    # template's name and language, and its body placeholders ({{1}}, {{2}}, …), one merge-field
    # template a line. Without a template, people outside the window are not sent to.
    wa_template = models.CharField(max_length=512, blank=True, default="")
    wa_language = models.CharField(max_length=16, blank=True, default="")
    wa_placeholders = models.TextField(max_length=4000, blank=True, default="")
    queued_at = models.DateTimeField(null=True, blank=True)
    queued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Keyset cursor of the send: the last profile id handled, committed with each chunk.
    cursor = models.BigIntegerField(default=0)
    sent = models.PositiveBigIntegerField(default=0)
    blocked_dnc = models.PositiveBigIntegerField(default=0)
    no_destination = models.PositiveBigIntegerField(default=0)
    failed = models.PositiveBigIntegerField(default=0)
    outside_window = models.PositiveBigIntegerField(default=0)

    objects = AccountScopedQuerySet.as_manager()

    class Meta(Job.Meta):
        indexes = [models.Index(fields=["account", "-created_at", "-id"], name="broadcast_list")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("communications:broadcast", args=[self.pk])

    @property
    def job_title(self) -> str:
        return f"Broadcast “{self.name}”"

    @property
    def job_owner(self):
        return self.queued_by or self.created_by

    @property
    def is_draft(self) -> bool:
        return self.queued_at is None

    @property
    def is_active(self) -> bool:
        return not self.is_draft and self.status in (JobStatus.PENDING, JobStatus.RUNNING)

    @property
    def handled(self) -> int:
        return self.sent + self.blocked_dnc + self.no_destination + self.failed + self.outside_window

    @property
    def state_label(self) -> str:
        if self.is_draft:
            return "Draft"
        return {JobStatus.PENDING: "Queued", JobStatus.RUNNING: "Sending", JobStatus.DONE: "Sent"}.get(
            self.status, self.get_status_display()
        )


class FlowStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    FINISHED = "finished", "Finished"


class Flow(models.Model):
    """A stand-in for a Moments flow: its Predefined Audience entry point is its AudienceItems."""

    account = models.ForeignKey("audience.Account", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=FlowStatus.choices, default=FlowStatus.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)
    # Options of the entry point, read by the entries task (`flows.flow_entries_refresh`).
    leave_when_unmatched = models.BooleanField(
        "People leave when they stop matching",
        default=False,
        help_text="A person still in the flow who no longer matches its entry audience leaves it.",
    )
    allow_reentry = models.BooleanField(
        "Allow re-entry after exit",
        default=False,
        help_text="A person whose run ended, who stopped matching and matches again, enters again at step 1.",
    )

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "status"], name="flow_account_status")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("communications:flow", args=[self.pk])


class ItemKind(models.TextChoices):
    TAG = "tag", "Tag"
    SEGMENT = "segment", "Segment"
    COMPANY = "company", "Company"
    SELECTION = "selection", "People selection"


class AudienceItem(models.Model):
    """One part of an audience: a tag, a segment, a company (by id) or a People selection."""

    account = models.ForeignKey("audience.Account", on_delete=models.CASCADE, related_name="+")
    broadcast = models.ForeignKey(
        Broadcast, null=True, blank=True, on_delete=models.CASCADE, related_name="items"
    )
    flow = models.ForeignKey(Flow, null=True, blank=True, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=16, choices=ItemKind.choices)
    object_id = models.BigIntegerField(null=True, blank=True)
    selection = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(broadcast__isnull=False, flow__isnull=True)
                | Q(broadcast__isnull=True, flow__isnull=False),
                name="audience_item_one_owner",
                violation_error_message="An audience item belongs to a broadcast or to a flow, not both.",
            ),
        ]
        indexes = [
            # "Currently used": the communications that name this tag / segment.
            models.Index(fields=["kind", "object_id"], name="audience_item_object"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id or ''}".strip()


class MessageStatus(models.TextChoices):
    # Written before the hand-off to the channel backend; sent or failed once its answer commits.
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    BLOCKED_DNC = "blocked_dnc", "Blocked by Do Not Contact"
    NO_DESTINATION = "no_destination", "No destination"
    # WhatsApp: the person has not written within 24 hours and the broadcast has no template.
    OUTSIDE_WINDOW = "outside_window", "Outside WhatsApp's 24-hour window, no template"
    FAILED = "failed", "Failed"
    # From the provider's delivery reports (communications.webhooks): final, as `failed` is.
    DELIVERED = "delivered", "Delivered"
    UNDELIVERABLE = "undeliverable", "Undeliverable"
    EXPIRED = "expired", "Expired"


# Messages handed over to the channel, whatever the provider reported since.
HANDED_OVER = (
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.UNDELIVERABLE,
    MessageStatus.EXPIRED,
)


class Message(models.Model):
    """What happened for one recipient of one broadcast. Unique per (broadcast, profile): a send
    that is retried or resumed never handles a recipient twice. A `queued` row is one whose
    hand-off to the backend is not known to be done: a resumed send hands it over again with the
    same idempotency key (`backends.message_key`)."""

    account = models.ForeignKey(
        "audience.Account", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    broadcast = models.ForeignKey(
        Broadcast, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    profile = models.ForeignKey(
        "audience.Profile", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    channel = models.CharField(max_length=16, choices=BROADCAST_CHANNELS)
    sender = models.CharField(max_length=100, blank=True, default="")
    destination = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=16, choices=MessageStatus.choices)
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    # `doneAt` of the final delivery report applied (null until one came): an older final report
    # arriving late never replaces a newer one.
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "profile"], name="message_once_per_recipient"),
        ]
        indexes = [
            # Profile card: the messages a profile received, newest first.
            models.Index(fields=["profile", "created_at"], name="message_profile"),
            # Quick filters "contacted within" and "reached over channel": profile ids, index-only.
            models.Index(fields=["account", "status", "created_at", "profile"], name="message_contacted"),
            models.Index(fields=["account", "status", "channel", "profile"], name="message_reached"),
            # A send's messages still to hand over: only rows in flight are in it, so it stays tiny.
            models.Index(
                fields=["broadcast", "profile"], condition=Q(status="queued"), name="message_queued"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()} to {self.destination or self.profile_id}"


# --- Coming back: webhooks, inbound messages, opt-out words ---------------------------------------


class InboundSettings(models.Model):
    """An account's settings for what comes back from its SMS numbers: the secret of its webhook
    URLs (only a SHA-256 is kept; the secret is shown once, when it is made), the opt-out words
    it adds to the standard ones, and the confirmation replies (blank: no reply)."""

    account = models.OneToOneField("audience.Account", on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    token_prefix = models.CharField(max_length=12, blank=True, default="")
    token_created_at = models.DateTimeField(null=True, blank=True)
    stop_words = models.CharField(max_length=500, blank=True, default="")
    start_words = models.CharField(max_length=500, blank=True, default="")
    reply_stop = models.CharField(max_length=480, blank=True, default="")
    reply_start = models.CharField(max_length=480, blank=True, default="")
    reply_help = models.CharField(max_length=480, blank=True, default="")
    modified_at = models.DateTimeField(default=timezone.now)
    modified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "inbound SMS settings"
        verbose_name_plural = "inbound SMS settings"

    def __str__(self) -> str:
        return f"Inbound SMS settings of {self.account_id}"


class WebhookKind(models.TextChoices):
    INBOUND_SMS = "inbound_sms", "Inbound SMS"
    INBOUND_WHATSAPP = "inbound_whatsapp", "Inbound WhatsApp"
    DELIVERY_REPORTS = "delivery_reports", "Delivery reports"


class WebhookBatch(Job):
    """One webhook request's body, kept as it came and worked on by a job (the request only
    stores it). `total` is its number of results; the counters say what became of them."""

    kind = models.CharField(max_length=20, choices=WebhookKind.choices)
    payload = models.JSONField()
    applied = models.PositiveIntegerField(default=0)
    repeated = models.PositiveIntegerField(default=0)
    ignored = models.PositiveIntegerField(default=0)

    objects = AccountScopedQuerySet.as_manager()

    class Meta(Job.Meta):
        verbose_name_plural = "webhook batches"
        indexes = [models.Index(fields=["account", "-created_at"], name="webhook_batch_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} batch {self.pk}"


class InboundWord(models.TextChoices):
    STOP = "stop", "Stop"
    START = "start", "Start"
    HELP = "help", "Help"
    OTHER = "other", "Other text"


class InboundAction(models.TextChoices):
    PENDING = "", "Not processed yet"
    NONE = "none", "No change"
    OPTED_OUT = "opted_out", "Added to Do Not Contact"
    OPTED_IN = "opted_in", "Removed from Do Not Contact"
    SUPERSEDED = "superseded", "A later message from this number decided"
    INVALID = "invalid", "Not a phone number: nothing changed"


class ReplyStatus(models.TextChoices):
    NONE = "", "No reply"
    QUEUED = "queued", "Reply queued"
    SENT = "sent", "Reply sent"
    FAILED = "failed", "Reply failed"
    BLOCKED = "blocked", "No reply: the number is on Do Not Contact"


class InboundMessage(models.Model):
    """One message an end user sent to one of the account's numbers. Unique per (account,
    provider's message id): a message the provider posts twice is handled once."""

    account = models.ForeignKey(
        "audience.Account", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # The batch that brought it first; messages outlive batches that are cleaned up.
    batch = models.ForeignKey(
        WebhookBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_messages"
    )
    message_id = models.CharField(max_length=200)
    # SMS, or WHATSAPP (whose last message opens WhatsApp's 24-hour window for free-form text).
    channel = models.CharField(max_length=16, default="SMS")
    # The end user's number (E.164 when it is a valid phone, as received otherwise) and ours.
    number = models.CharField(max_length=64)
    to = models.CharField(max_length=100, blank=True, default="")
    text = models.TextField(blank=True, default="")
    word = models.CharField(max_length=8, choices=InboundWord.choices)
    received_at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=16, choices=InboundAction.choices, blank=True, default="")
    processed_at = models.DateTimeField(null=True, blank=True)
    # The confirmation reply, an outgoing record of its own (communications.replies).
    reply_text = models.CharField(max_length=480, blank=True, default="")
    reply_status = models.CharField(max_length=8, choices=ReplyStatus.choices, blank=True, default="")
    reply_error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "message_id"], name="inbound_message_once"),
        ]
        indexes = [
            # "Did a later STOP/START from this number to this sender already decide?"
            models.Index(fields=["account", "number", "to", "received_at"], name="inbound_message_number"),
            # Configuration's list of the latest messages.
            models.Index(fields=["account", "-received_at"], name="inbound_message_recent"),
            # "Who wrote on WhatsApp within 24 hours?" (communications.whatsapp).
            models.Index(
                fields=["account", "channel", "number", "received_at"], name="inbound_message_window"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} → {self.to}: {self.text[:40]}"


# --- Sending: the sandbox outbox and hand-offs --------------------------------------------------


class OutboxMessage(models.Model):
    """The sandbox outbox: what the embedded default channel keeps instead of sending (no
    provider configured), rendered, so a newcomer sees exactly what would have gone to whom.
    Unique by idempotency key: a repeated hand-off adds nothing."""

    account = models.ForeignKey(
        "audience.Account", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # None for a message of no broadcast: a flow's (its key starts with "f") or a STOP/START
    # confirmation reply (communications.replies).
    broadcast = models.ForeignKey(
        Broadcast, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    key = models.CharField(max_length=64, unique=True)
    channel = models.CharField(max_length=16, choices=BROADCAST_CHANNELS)
    sender = models.CharField(max_length=255, blank=True, default="")
    destination = models.CharField(max_length=255)
    subject = models.CharField(max_length=255, blank=True, default="")
    text = models.TextField(blank=True, default="")
    html = models.TextField(blank=True, default="")
    headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["account", "-id"], name="outbox_account")]

    def __str__(self) -> str:
        return f"{self.channel} to {self.destination}"


class HandOff(models.Model):
    """The idempotency keys a channel without a provider-side key (SMTP) has handed over: one row
    a message, committed a round at a time before that round's hand-off, so a resumed send skips
    it (channels/email.py: a worker killed mid-round loses at most that round, never sends twice)."""

    key = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # One index on the key: a unique constraint, not `unique=True`, which on PostgreSQL adds a
        # second (LIKE) index that every hand-off would write and nothing reads.
        constraints = [models.UniqueConstraint(fields=["key"], name="handoff_key_once")]
        # The hourly purge (services.handoff_purge) reads the oldest keys by it.
        indexes = [models.Index(fields=["created_at"], name="handoff_created")]

    def __str__(self) -> str:
        return self.key


# --- Flows that run ------------------------------------------------------------------------------


class StepKind(models.TextChoices):
    SEND = "send", "Send a message"
    WAIT = "wait", "Wait"
    WAIT_REPLY = "wait_reply", "Wait for a reply"
    BRANCH = "branch", "Branch"
    ADD_TAG = "add_tag", "Add tag"
    REMOVE_TAG = "remove_tag", "Remove tag"
    ADD_DNC = "add_dnc", "Add to Do Not Contact"
    REMOVE_DNC = "remove_dnc", "Remove from Do Not Contact"
    EXIT = "exit", "Exit"


class FlowStep(models.Model):
    """One step of a flow, run in `position` order. `config` holds what the kind needs, checked
    by `communications.flows.step_config_clean` (a branch names its targets by step id, so moving
    steps keeps them). `passed` and `failed` count the people who left the step each way: the
    rows of `FlowPassage` for the step, kept equal to them in the same transaction. `waiting`
    counts the step's runs in state `waiting`: kept by database triggers on the run table
    (migration 0016), in the transaction of every statement that inserts, moves, ends or deletes
    runs, so it is exact whichever code (or cascade) wrote them; never saved from Python."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=StepKind.choices)
    config = models.JSONField(default=dict, blank=True)
    passed = models.PositiveBigIntegerField(default=0)
    failed = models.PositiveBigIntegerField(default=0)
    waiting = models.BigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["flow", "position"], name="flowstep_order")]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_kind_display()}"


class RunState(models.TextChoices):
    WAITING = "waiting", "Waiting"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    EXITED = "exited", "Exited"
    LEFT = "left", "Left (stopped matching)"


class FlowRun(models.Model):
    """One person in one flow: the step they are at, when it is due, and their state. The
    scheduler (`communications.flows.flow_runs_due`) claims due runs with a conditional UPDATE
    that sets `claim` and `claimed_until`; a claim whose worker died expires and is taken again.
    `wait_started_at` is set while the run sits in a wait step (the wait was computed), `reply`
    holds the last reply a wait-for-reply step received."""

    # No foreign key constraints in the database: the enrolment writes a million rows at once
    # and a constraint checks each of them (four lookups a row, at commit), for values the same
    # statement takes from the flow, its first step and the profile table. Deletions still
    # cascade through Django (`on_delete`), as every profile, flow and account deletion here goes.
    account = models.ForeignKey(
        "audience.Account", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    flow = models.ForeignKey(
        Flow, on_delete=models.CASCADE, related_name="runs", db_index=False, db_constraint=False
    )
    # Indexed by flowrun_once_per_person (profile first), not by a second index of its own.
    profile = models.ForeignKey(
        "audience.Profile", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    step = models.ForeignKey(
        FlowStep,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs",
        db_index=False,
        db_constraint=False,
    )
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.WAITING)
    due_at = models.DateTimeField(default=timezone.now)
    wait_started_at = models.DateTimeField(null=True, blank=True)
    reply = models.TextField(blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")
    claim = models.CharField(max_length=32, blank=True, default="")
    claimed_until = models.DateTimeField(null=True, blank=True)
    entered_at = models.DateTimeField(default=timezone.now)
    # How many times the person entered (re-entry restarts the run); part of a send's key.
    entries = models.PositiveIntegerField(default=1)
    # Set when the person's run had ended and they no longer matched the entry audience: with
    # re-entry allowed, matching again restarts the run.
    unmatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        # Every index here is written for each person a flow enrols (1,000,000 at once), so the
        # table has only what the scheduler and the flow page read.
        constraints = [
            # One run per person (ON CONFLICT (flow_id, profile_id) of the enrolment finds it in
            # either order); profile first, so deleting people finds their runs through it too.
            models.UniqueConstraint(fields=["profile", "flow"], name="flowrun_once_per_person"),
        ]
        indexes = [
            # Waiting runs only, by flow and step, in due order: the scheduler claims a range of
            # each step's due runs, the step's waiting list is a range of it in due order, and
            # the flow page counts who waits at each step from it.
            models.Index(fields=["flow", "step", "due_at"], condition=Q(state="waiting"), name="flowrun_due"),
            # No index on `claim`: the scheduler reads its claimed runs back by id, and an
            # unindexed claim lets PostgreSQL write the claim and its release as HOT updates
            # (no index entries) where the page has room.
            models.Index(fields=["flow"], condition=Q(unmatched_at__isnull=False), name="flowrun_unmatched"),
        ]

    def __str__(self) -> str:
        return f"{self.profile_id} in flow {self.flow_id} ({self.state})"


class FlowPassage(models.Model):
    """A person who left a step, passed (went on, was done or exited) or failed: once per
    (step, outcome, person), however often they went through it (a branch loop, re-entry).
    Written by the scheduler with the runs' move, in its transaction, with the step's
    `passed`/`failed` raised by the rows it inserted (`flows._passages_record`), so the counts
    are exact and a redone chunk counts nobody twice. The step's *passed* and *failed* lists
    read a range of `flowpassage_once` (step, failed, profile)."""

    # No database constraints, as on FlowRun (the scheduler writes a row per person a step);
    # deletions cascade through Django: a step's or a flow's by `flowpassage_once`, a person's
    # by `flowpassage_profile`.
    account = models.ForeignKey(
        "audience.Account", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    step = models.ForeignKey(
        FlowStep, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    profile = models.ForeignKey(
        "audience.Profile", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    failed = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True, default="")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["step", "failed", "profile"], name="flowpassage_once"),
        ]
        indexes = [models.Index(fields=["profile"], name="flowpassage_profile")]

    def __str__(self) -> str:
        return f"{self.profile_id} {'failed at' if self.failed else 'passed'} step {self.step_id}"


class FlowMessage(models.Model):
    """What a flow's send step did for one person: unique by its idempotency key
    (`f<flow>:<step>:<profile>`), written before the hand-off, so a step redone after a crash
    hands the message over again with the same key (deduplicated by the channel) or not at all."""

    account = models.ForeignKey(
        "audience.Account", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="messages", db_index=False)
    step = models.ForeignKey(FlowStep, null=True, on_delete=models.SET_NULL, related_name="+")
    profile = models.ForeignKey("audience.Profile", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64, unique=True)
    channel = models.CharField(max_length=16, choices=BROADCAST_CHANNELS)
    sender = models.CharField(max_length=100, blank=True, default="")
    destination = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=16, choices=MessageStatus.choices)
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.get_status_display()} to {self.destination or self.profile_id}"
