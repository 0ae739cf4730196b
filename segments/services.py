"""Writes of the segments app: segment CRUD, predefined segments, daily sizes.

The rule engine's reads live in `segments.selectors`; they are re-exported here so that a caller
that writes segments reaches the engine through the same module."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audience import counting
from audience.models import Account, EventDefinition
from audience.usage import SEGMENT, usage_list
from segments import selectors
from segments.models import Segment, SegmentSize
from segments.selectors import rule_count, rule_explain, rule_queryset, rule_validate  # noqa: F401

log = logging.getLogger(__name__)
BACKGROUND_COUNT_MS = 60_000  # a worker's limit for a count the page gave up on

APP_LAUNCH_30_DAYS = {
    "event": EventDefinition.APP_LAUNCH,
    "performed": True,
    "occurrence": {"operator": "gte", "count": 1},
    "time": {"operator": "within_last", "amount": 30, "unit": "days"},
}
PREDEFINED = {
    "active_mobile_users": (
        "Active Mobile Users",
        "People who launched the mobile app at least once in the last 30 days.",
        {"version": 1, "events": [APP_LAUNCH_30_DAYS]},
    ),
    "inactive_mobile_users": (
        "Inactive Mobile Users",
        "People who did not launch the mobile app in the last 30 days.",
        {"version": 1, "events": [{**APP_LAUNCH_30_DAYS, "performed": False}]},
    ),
}


def _check_name(account: Account, name: str, exclude: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the segment a name."})
    if len(name) > 100:
        raise ValidationError({"name": "A name has at most 100 characters."})
    clash = Segment.objects.for_account(account).filter(name__iexact=name).exclude(pk=exclude)
    if clash.exists():
        raise ValidationError({"name": f"There is already a segment named “{name}”."})
    return name


def segment_check_changeable(*, segment: Segment) -> None:
    """Refuse changes to a predefined segment or one used by an active communication."""
    if segment.is_predefined:
        raise ValidationError(f"“{segment.name}” is predefined: it can be used but not changed.")
    users = usage_list(SEGMENT, segment)
    if users:
        raise ValidationError(
            f"“{segment.name}” is used by {', '.join(users)}; it can't be changed while in use."
        )


def segment_create(*, account: Account, name: str, rule: dict, description: str = "", user=None) -> Segment:
    name = _check_name(account, name)
    rule = selectors.rule_clean(account=account, rule=rule)
    try:
        with transaction.atomic():
            return Segment.objects.create(
                account=account, name=name, rule=rule, description=description.strip(), created_by=user
            )
    except IntegrityError:
        raise ValidationError({"name": f"There is already a segment named “{name}”."}) from None


def segment_update(*, segment: Segment, name: str, rule: dict, description: str = "") -> Segment:
    segment_check_changeable(segment=segment)
    segment.name = _check_name(segment.account, name, exclude=segment.pk)
    segment.rule = selectors.rule_clean(account=segment.account, rule=rule)
    segment.description = description.strip()
    segment.modified_at = timezone.now()
    segment.save(update_fields=["name", "rule", "description", "modified_at"])
    return segment


def segment_duplicate(*, segment: Segment, user=None) -> Segment:
    base = f"Copy of {segment.name}"[:90]
    name, number = base, 2
    while Segment.objects.for_account(segment.account).filter(name__iexact=name).exists():
        name, number = f"{base} ({number})", number + 1
    return segment_create(
        account=segment.account, name=name, rule=segment.rule, description=segment.description, user=user
    )


def segments_delete(*, account: Account, segment_ids: Iterable[int]) -> int:
    """Delete these segments of `account`; refuses (and deletes nothing) if any is predefined or in use."""
    segments = list(Segment.objects.for_account(account).filter(pk__in=list(segment_ids)))
    for segment in segments:
        segment_check_changeable(segment=segment)
    deleted, _ = Segment.objects.filter(pk__in=[s.pk for s in segments]).delete()
    return len(segments) if deleted else 0


def segments_predefined_ensure(*, account: Account) -> None:
    """Create the predefined segments of `account` if they are missing (idempotent)."""
    existing = set(
        Segment.objects.for_account(account).exclude(predefined="").values_list("predefined", flat=True)
    )
    for key, (name, description, rule) in PREDEFINED.items():
        if key in existing:
            continue
        _, created = EventDefinition.objects.get_or_create(
            account=account, name=EventDefinition.APP_LAUNCH, defaults={"is_predefined": True}
        )
        if created:
            counting.data_changed(account_ids=[account.pk])
        if Segment.objects.for_account(account).filter(name__iexact=name).exists():
            continue
        try:
            with transaction.atomic():
                Segment.objects.create(
                    account=account, name=name, description=description, rule=rule, predefined=key
                )
        except IntegrityError:  # created concurrently
            pass


def segment_size_record(*, segment: Segment, timeout_ms: int = 60_000) -> SegmentSize:
    """Count the segment now (as every live count is: `selectors.rule_count`, not cached) and
    store it under today's date (the account's)."""
    try:
        size = selectors.rule_count(
            account=segment.account, rule=segment.rule, cached=False, timeout_ms=timeout_ms
        )
    except ValidationError:
        size = None
    row, _ = SegmentSize.objects.update_or_create(
        segment=segment, date=segment.account.today(), defaults={"size": size}
    )
    return row


def segment_sizes_record() -> int:
    """Record today's size of every segment of every account; returns how many were recorded."""
    recorded = 0
    for segment in Segment.objects.select_related("account").iterator(chunk_size=200):
        segment_size_record(segment=segment)
        recorded += 1
    return recorded


def rule_count_in_background(*, account: Account, rule: Any) -> bool:
    """A count that timed out on the page goes on in a worker, with BACKGROUND_COUNT_MS, and lands
    in the count cache, so "try again in a moment" finds it: a retry from the page would start over
    under the same short limit and time out again. One at a time per (account, rule); False when
    one is already running or the broker can't take it (the page then simply says so again)."""
    from segments import tasks

    text = json.dumps(rule, sort_keys=True, default=str)
    marker = counting.count_cache_key(account.pk, "counting", text)
    if not cache.add(marker, True, BACKGROUND_COUNT_MS // 1000):
        return False
    try:
        tasks.rule_count_task.apply_async(args=[account.pk, rule], retry=False)
    except Exception as error:  # any broker failure: nothing is lost but the head start
        log.warning("queueing a background count failed: %s", error)
        cache.delete(marker)
        return False
    return True
