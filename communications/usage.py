"""\"Currently used\": what the tags, segments, senders and custom attributes ask before one is
edited or deleted. Each checker answers the names of the active flows (and the broadcasts being
sent) that use it: in their audience, or in a step (a tag step's tag, a branch rule's tags and
attributes, a date wait's attribute; a send step's sender is in `senders.sender_users`).

The flow lookups are small functions of their own (`flow_tag_users`, `flow_segment_users`,
`flow_attribute_users`, `flow_sender_users`) so a single usage registry can take them as they are.
"""

from __future__ import annotations

from communications import selectors
from communications.models import ItemKind
from segments.selectors import rule_conditions


def _active_steps(account_id: int, kinds: list[str]):
    from communications.models import FlowStatus, FlowStep

    return FlowStep.objects.filter(
        flow__account_id=account_id, flow__status=FlowStatus.ACTIVE, kind__in=kinds
    ).select_related("flow")


def _named(steps) -> list[str]:
    return [f"Flow “{name}” (active)" for name in sorted({step.flow.name for step in steps})]


def flow_tag_users(tag) -> list[str]:
    """Active flows with a tag step of `tag`, or a branch whose rule names it."""
    from communications.models import StepKind

    using = []
    for step in _active_steps(tag.account_id, [StepKind.ADD_TAG, StepKind.REMOVE_TAG, StepKind.BRANCH]):
        if step.kind != StepKind.BRANCH:
            if step.config.get("tag") == tag.pk:
                using.append(step)
            continue
        for condition in rule_conditions(step.config.get("rule")):
            values = condition.get("value")
            values = values if isinstance(values, list) else [values]
            if condition.get("attribute") == "tags" and tag.name.lower() in [str(v).lower() for v in values]:
                using.append(step)
                break
    return _named(using)


def flow_segment_users(segment) -> list[str]:
    """Active flows (and broadcasts being sent) whose entry audience holds `segment`. A branch's
    rule can't name a segment (the rule language has no segment condition), so no step does."""
    return selectors.communications_using(
        account=segment.account, kind=ItemKind.SEGMENT, object_id=segment.pk
    )


def flow_attribute_users(definition) -> list[str]:
    """Active flows with a branch whose rule reads the custom attribute, or a wait until it."""
    from communications.models import StepKind

    key = f"custom.{definition.name}".lower()
    using = []
    for step in _active_steps(definition.account_id, [StepKind.BRANCH, StepKind.WAIT]):
        if step.kind == StepKind.WAIT:
            attribute = str(step.config.get("attribute", "")).lower()
            if step.config.get("mode") == "date_attribute" and attribute in (key, definition.name.lower()):
                using.append(step)
        elif any(
            str(c.get("attribute", "")).lower() == key for c in rule_conditions(step.config.get("rule"))
        ):
            using.append(step)
    return _named(using)


def flow_sender_users(sender) -> list[str]:
    """Active flows with a send step from `sender` (names only, as `senders.sender_users` gives)."""
    from communications.models import StepKind

    steps = _active_steps(sender.account_id, [StepKind.SEND]).filter(
        config__channel=sender.channel, config__sender=sender.address
    )
    return sorted({step.flow.name for step in steps})


def tag_usage(tag) -> list[str]:
    found = selectors.communications_using(account=tag.account, kind=ItemKind.TAG, object_id=tag.pk)
    return found + [name for name in flow_tag_users(tag) if name not in found]


def segment_usage(segment) -> list[str]:
    return flow_segment_users(segment)


def attribute_usage(definition) -> list[str]:
    return flow_attribute_users(definition)
