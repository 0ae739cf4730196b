"""Who else uses a custom attribute: other apps (segments' rules, imports' saved mappings…)
register a checker so that Configuration refuses to delete an attribute they depend on.

    from audience import usage
    usage.register_attribute_usage(lambda definition: [f"Segment {s.name}" for s in ...])

A checker takes an `AttributeDefinition` and returns human-readable descriptions of the things that
use it (empty when none do).
"""

from __future__ import annotations

from collections.abc import Callable

from audience.models import AttributeDefinition

AttributeUsage = Callable[[AttributeDefinition], list[str]]
_checkers: list[AttributeUsage] = []


def register_attribute_usage(checker: AttributeUsage) -> None:
    if checker not in _checkers:
        _checkers.append(checker)


def attribute_usages(definition: AttributeDefinition) -> list[str]:
    found: list[str] = []
    for checker in _checkers:
        found.extend(checker(definition))
    return found
