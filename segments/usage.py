"""Who uses a segment: communications register a checker; a used segment can't be changed.

from segments.usage import register_segment_usage
register_segment_usage(lambda segment: ["Broadcast “Spring sale” (active)"])
"""

from __future__ import annotations

from collections.abc import Callable

SegmentUsage = Callable[[object], list[str]]
_checkers: list[SegmentUsage] = []


def register_segment_usage(checker: SegmentUsage) -> None:
    if checker not in _checkers:
        _checkers.append(checker)


def segment_usages(segment) -> list[str]:
    found: list[str] = []
    for checker in _checkers:
        found.extend(checker(segment))
    return found
