"""\"Currently used\": what the tags and segments apps ask before a tag or a segment is edited or
deleted. Each checker answers the names of the active flows (and the broadcasts being sent)
whose audience holds it."""

from __future__ import annotations

from communications import selectors
from communications.models import ItemKind


def tag_usage(tag) -> list[str]:
    from communications import flows
    from communications.models import StepKind

    steps = flows.flows_using_step_object(
        account=tag.account, kinds=[StepKind.ADD_TAG, StepKind.REMOVE_TAG], key="tag", value=tag.pk
    )
    found = selectors.communications_using(account=tag.account, kind=ItemKind.TAG, object_id=tag.pk)
    return found + [name for name in steps if name not in found]


def segment_usage(segment) -> list[str]:
    return selectors.communications_using(
        account=segment.account, kind=ItemKind.SEGMENT, object_id=segment.pk
    )
