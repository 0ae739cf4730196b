"""\"Currently used\": what the tags and segments apps ask before a tag or a segment is edited or
deleted. Each checker answers the names of the active flows (and the broadcasts being sent)
whose audience holds it."""

from __future__ import annotations

from communications import selectors
from communications.models import ItemKind


def tag_usage(tag) -> list[str]:
    return selectors.communications_using(account=tag.account, kind=ItemKind.TAG, object_id=tag.pk)


def segment_usage(segment) -> list[str]:
    return selectors.communications_using(
        account=segment.account, kind=ItemKind.SEGMENT, object_id=segment.pk
    )
