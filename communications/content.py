"""A broadcast's content: merge fields rendered safely for each recipient, and an SMS's length.

Merge fields are Django template variables read from a context of plain values only:

- the standard profile fields by their keys (`{{ first_name }}`, `{{ last_name }}`, `{{ city }}`,
  `{{ country }}`, `{{ birth_date }}`, …, `{{ company }}` = the company's name),
  `{{ email }}` and `{{ phone }}` (the profile's first contact of that kind);
- custom attributes as `{{ custom.<name> }}`, the key the rule language uses (`custom.tier`);
- a fallback when empty: `{{ first_name|default:"there" }}`.

The template engine is a Django `Engine` with none of the default tags, filters or loaders: only
`if`/`else` and a few string filters. Its context holds strings, numbers and one dict (`custom`)
built for the message: no model object, so a marketer's template can read the profile's fields and
nothing else (no `{% include %}`, no `{% load %}`, no attribute that reaches the database).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import VariableDoesNotExist

from audience.fields import FIELD_NAMES

STANDARD_FIELDS = list(FIELD_NAMES)
MERGE_FIELDS = [*STANDARD_FIELDS, "company", "email", "phone"]

_library = Library()
_library.tag("if", defaulttags.do_if)
for _name in ("default", "default_if_none", "upper", "lower", "title", "capfirst", "truncatechars"):
    _library.filter(_name, defaultfilters.register.filters[_name])


class _RestrictedEngine(Engine):
    # No default builtins: without them there is no `load`, `include`, `extends`, `url`, `now`…
    default_builtins: list[str] = []

    def get_template_builtins(self, builtins):
        return [_library]


# One engine for plain text (SMS, email text, subject) and one that escapes values for HTML.
_TEXT = _RestrictedEngine(autoescape=False, libraries={}, string_if_invalid="")
_HTML = _RestrictedEngine(autoescape=True, libraries={}, string_if_invalid="")


def template_compile(source: str, *, html: bool = False) -> Template:
    """The compiled template, or ValidationError-friendly TemplateSyntaxError with a message."""
    return (_HTML if html else _TEXT).from_string(source)


def template_error(source: str, *, html: bool = False) -> str:
    """Why `source` does not parse ("" when it does), in words for the form."""
    try:
        template = template_compile(source, html=html)
        template.render(Context(_sample()))
    except TemplateSyntaxError as error:
        reason = str(error).replace(" Did you forget to register or load this tag?", "").rstrip(".")
        return f"The template can't be read: {reason}. Merge fields look like {{{{ first_name }}}}."
    except (VariableDoesNotExist, TypeError, ValueError) as error:
        return f"The message can't be rendered: {error}."
    return ""


def _sample() -> dict[str, Any]:
    return {name: "" for name in MERGE_FIELDS} | {"custom": {}}


def merge_context(row: dict[str, Any], attributes: dict | None, company: str, email: str, phone: str) -> dict:
    """The plain values a template may read for one profile (`row` holds STANDARD_FIELDS)."""
    context = {name: _plain(row.get(name)) for name in STANDARD_FIELDS}
    context["company"] = company or ""
    context["email"] = email or ""
    context["phone"] = phone or ""
    context["custom"] = {str(k): _plain(v) for k, v in (attributes or {}).items()}
    return context


def _plain(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)  # dates and anything else: their text, never the object


def render(template: Template, context: dict) -> str:
    return template.render(Context(context, autoescape=template.engine.autoescape))


# --- SMS length ----------------------------------------------------------------------------------

_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsLength:
    characters: int  # as the network counts them (GSM-7 extension characters count twice)
    parts: int
    encoding: str  # "GSM-7" or "Unicode (UCS-2)"
    per_part: int

    @property
    def remaining(self) -> int:
        return self.parts * self.per_part - self.characters if self.parts else self.per_part


def sms_length(text: str) -> SmsLength:
    """Characters and parts of an SMS: 160, then 153 a part in GSM-7; a character outside GSM-7
    makes it UCS-2: 70, then 67 a part (characters outside the BMP take two UCS-2 units)."""
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENDED for ch in text):
        count = sum(2 if ch in _GSM7_EXTENDED else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        count = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
        single, multi, encoding = 70, 67, "Unicode (UCS-2)"
    if count == 0:
        return SmsLength(0, 0, encoding, single)
    if count <= single:
        return SmsLength(count, 1, encoding, single)
    return SmsLength(count, -(-count // multi), encoding, multi)


def broadcast_content_check(broadcast) -> None:
    """ValidationError, keyed by field, for content a channel needs and does not have, or a
    template that does not parse."""
    errors = {}
    fields = ["text"]
    if broadcast.channel == "EMAIL":
        fields = ["subject", "text", "html"]
        if not broadcast.subject.strip():
            errors["subject"] = "An email needs a subject."
    if not broadcast.text.strip():
        errors["text"] = "Write the message." if broadcast.channel != "EMAIL" else "Write the text version."
    for name in fields:
        source = getattr(broadcast, name)
        if name not in errors and source:
            problem = template_error(source, html=name == "html")
            if problem:
                errors[name] = problem
    if errors:
        raise ValidationError(errors)
