"""WhatsApp's 24-hour customer-service window: free-form text may go only to a person whose last
message to the business came within the last 24 hours; anyone else must get an approved template
(its name, language and body placeholders {{1}}, {{2}}, …).

The window is read from the inbound WhatsApp messages (`InboundMessage` with channel WHATSAPP,
brought by the /webhooks/<secret>/inbound-whatsapp/ webhook). A WhatsApp broadcast with a template
sends the template to people outside the window and its text to those inside it; without one,
people outside the window are not sent to (status `outside_window`, listed on the broadcast)."""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils import timezone

from communications import content
from communications.models import InboundMessage

WINDOW = dt.timedelta(hours=24)
# WhatsApp template names: lower-case letters, digits and underscores.
TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")


def window_open(*, account_id: int, numbers: list[str], now: dt.datetime | None = None) -> set[str]:
    """The numbers among `numbers` that wrote to the account on WhatsApp within 24 hours."""
    since = (now or timezone.now()) - WINDOW
    found: set[str] = set()
    for start in range(0, len(numbers), 1000):
        found.update(
            InboundMessage.objects.filter(
                account_id=account_id,
                channel="WHATSAPP",
                number__in=numbers[start : start + 1000],
                received_at__gte=since,
            ).values_list("number", flat=True)
        )
    return found


def placeholder_lines(raw: str) -> list[str]:
    """The placeholders' merge-field templates, {{1}} first: one a line, blank lines dropped."""
    return [line.strip() for line in raw.splitlines() if line.strip()]


def template_check(*, name: str, language: str, placeholders: str) -> None:
    """ValidationError keyed by the broadcast's field, for a template a marketer got wrong."""
    errors: dict[str, str] = {}
    if name and not TEMPLATE_NAME.match(name):
        errors["wa_template"] = (
            "A WhatsApp template name has lower-case letters, digits and underscores only, "
            "as it was approved (e.g. spring_sale)."
        )
    if name and not language:
        errors["wa_language"] = "Choose the language the template was approved in (e.g. en, en_GB)."
    elif language and not LANGUAGE.match(language):
        errors["wa_language"] = "A language code looks like en, en_GB or pt_BR."
    if not name and (language or placeholder_lines(placeholders)):
        errors["wa_template"] = "Name the template that the language and placeholders belong to."
    for number, line in enumerate(placeholder_lines(placeholders), start=1):
        problem = content.template_error(line)
        if problem:
            errors["wa_placeholders"] = f"Placeholder {{{{{number}}}}}: {problem}"
            break
    if errors:
        raise ValidationError(errors)
