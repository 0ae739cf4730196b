"""Who uses a segment: communications register a checker; a used segment can't be changed.

from segments.usage import register_segment_usage
register_segment_usage(lambda segment: ["Broadcast “Spring sale” (active)"])
"""

from __future__ import annotations

from collections.abc import Callable


class Usage(str):
    """A use's name ("Flow “Welcome” (active)") that also knows the page it is on: templates link
    it (`{{ use.url }}`), everything else reads it as the plain string it is."""

    url: str = ""

    def __new__(cls, text: str, url: str = "") -> Usage:
        value = super().__new__(cls, text)
        value.url = url
        return value


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
