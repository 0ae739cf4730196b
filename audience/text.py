"""What text can be stored: PostgreSQL's text (and jsonb) can't hold a NUL character, and UTF-8
can't encode an unpaired surrogate (JSON's "\\ud800"), so either is a database error and a 500
when it reaches a query. One check for every way text comes in: forms and query strings and JSON
bodies (`audience.middleware.RefuseNulMiddleware`), rules (segments, the API filter), profile
fields and attributes, tag names, import cells, Do Not Contact entries."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
NUL_REFUSED = "contains a NUL character (\\u0000), which can't be stored: remove it"
SURROGATE_REFUSED = "contains a character that can't be stored (an unpaired surrogate): remove it"


def text_unstorable(value: str) -> str | None:
    """Why `value` can't be stored (a sentence to follow the field's name), or None."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return NUL_REFUSED if found.group(0) == "\x00" else SURROGATE_REFUSED


def text_unstorable_paths(value: Any, path: str = "") -> list[tuple[str, str]]:
    """(dotted path, reason) of each string in decoded JSON (keys included) that can't be stored."""
    if isinstance(value, str):
        reason = text_unstorable(value)
        return [(path or "value", reason)] if reason else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            reason = text_unstorable(str(key))
            found += [(here, reason)] if reason else text_unstorable_paths(item, here)
        return found
    if isinstance(value, list | tuple):
        return [hit for i, item in enumerate(value) for hit in text_unstorable_paths(item, f"{path}[{i}]")]
    return []


def text_storable_fields(values: dict[str, Any]) -> None:
    """Refuse values holding text that can't be stored: one ValidationError naming every such field."""
    errors = {
        name: [f"{path} {reason}." for path, reason in found]
        for name, value in values.items()
        if (found := text_unstorable_paths(value, name))
    }
    if errors:
        raise ValidationError(errors, code="unstorable")


def text_storable_replace(value: str) -> str:
    """`value` with each character that can't be stored shown as U+FFFD (a file's preview)."""
    return _UNSTORABLE.sub("\ufffd", value)
