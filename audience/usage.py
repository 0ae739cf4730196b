"""Who uses a thing: the one registry the apps ask before a custom attribute, a tag or a segment
is deleted (or, for tags and segments, renamed, merged away or changed).

The app that depends on a thing registers a checker for its kind, in its `AppConfig.ready()`:

    from audience import usage
    usage.usage_register(usage.TAG, lambda tag: [f"Segment “{s.name}”" for s in ...])

A checker takes the object (an `AttributeDefinition`, a `Tag`, a `Segment`) and returns
human-readable descriptions of the things that use it, empty when none do. The owning app asks
`usage_list(kind, obj)`, shows the list as "Currently used" and refuses with the names in it.

Registered today: segments' rules (attributes and tags), communications' active flows and
broadcasts (tags and segments).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ATTRIBUTE = "attribute"
TAG = "tag"
SEGMENT = "segment"
KINDS = (ATTRIBUTE, TAG, SEGMENT)


class Usage(str):
    """A use's name ("Flow “Welcome” (active)") that also knows the page it is on: templates link
    it (`{{ use.url }}`), everything else reads it as the plain string it is."""

    url: str = ""

    def __new__(cls, text: str, url: str = "") -> Usage:
        value = super().__new__(cls, text)
        value.url = url
        return value


Checker = Callable[[Any], list[str]]
_checkers: dict[str, list[Checker]] = {kind: [] for kind in KINDS}


def usage_register(kind: str, checker: Checker) -> None:
    """Register `checker` for things of `kind`; registering it again does nothing."""
    if kind not in _checkers:
        raise ValueError(f"{kind!r} is not a kind of thing with users: {', '.join(KINDS)}.")
    if checker not in _checkers[kind]:
        _checkers[kind].append(checker)


def usage_list(kind: str, obj: Any) -> list[str]:
    """What uses `obj`, as every checker of its kind describes it (empty when nothing does)."""
    found: list[str] = []
    for checker in _checkers[kind]:
        found.extend(checker(obj))
    return found
