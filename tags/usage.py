""" "Currently used": who depends on a tag. Segments (rules naming it) and communications (active
flows and broadcasts whose audience holds it) register a checker here, so that the Tags screen can
show what uses a tag and refuse to delete, merge away or rename it while it is used.

    from tags.usage import register_tag_usage
    register_tag_usage(lambda tag: [f"segment “{s.name}”" for s in ...])

A checker takes a `Tag` and returns human-readable descriptions (empty when nothing uses it).
"""

from __future__ import annotations

from collections.abc import Callable

TagUsage = Callable[[object], list[str]]
_checkers: list[TagUsage] = []


def register_tag_usage(fn: TagUsage) -> None:
    if fn not in _checkers:
        _checkers.append(fn)


def tag_usages(tag) -> list[str]:
    found: list[str] = []
    for checker in _checkers:
        found.extend(checker(tag))
    return found
