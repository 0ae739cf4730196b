"""The attributes a rule can name in one account: standard columns, `custom.<name>` (typed by the
account's AttributeDefinitions), and the special keys tags, phone, email, company and dnc."""

from __future__ import annotations

from audience.fields import NAME_FIELDS, PROFILE_FIELDS
from audience.models import Account, AttributeDefinition, EventDefinition
from segments.rules import operators as ops
from segments.rules.operators import AttributeSpec

_KINDS = {"text": ops.TEXT, "choice": ops.CHOICE, "date": ops.DATE}
STANDARD: tuple[AttributeSpec, ...] = (
    # The standard profile fields, a person's name parts first (a stable sort).
    *(
        AttributeSpec(f.name, f.label, _KINDS[f.type], f.choices)
        for f in sorted(PROFILE_FIELDS, key=lambda f: f.name not in NAME_FIELDS)
    ),
    AttributeSpec("created_at", "Created", ops.DATETIME),
    AttributeSpec("modified_at", "Modified", ops.DATETIME),
    AttributeSpec("company", "Company", ops.TEXT, source="company"),
    AttributeSpec("phone", "Phone", ops.TEXT, source="contact"),
    AttributeSpec("email", "Email", ops.TEXT, source="contact"),
    AttributeSpec("tags", "Tags", ops.TAGS, source="tags"),
    AttributeSpec("dnc", "Do Not Contact", ops.DNC, source="dnc"),
)
STANDARD_BY_KEY = {spec.key: spec for spec in STANDARD}


def dnc_channels() -> tuple[tuple[str, str], ...]:
    from dnc.models import Channel

    return (("any", "Any channel"), *Channel.choices)


class Catalog:
    """The account's attribute and event vocabulary, loaded once per validation."""

    def __init__(self, account: Account):
        self.account = account
        self._custom: dict[str, AttributeDefinition] | None = None
        self._events: dict[str, EventDefinition] | None = None

    @property
    def custom(self) -> dict[str, AttributeDefinition]:
        if self._custom is None:
            self._custom = {d.name.lower(): d for d in AttributeDefinition.objects.for_account(self.account)}
        return self._custom

    @property
    def events(self) -> dict[str, EventDefinition]:
        if self._events is None:
            self._events = {d.name.lower(): d for d in EventDefinition.objects.for_account(self.account)}
        return self._events

    def attribute(self, key: str) -> AttributeSpec | None:
        if key.startswith("custom."):
            definition = self.custom.get(key[len("custom.") :].lower())
            if definition is None:
                return None
            return AttributeSpec(
                f"custom.{definition.name}", definition.name, definition.type, source="custom"
            )
        spec = STANDARD_BY_KEY.get(key)
        if spec is not None and spec.source == "dnc":
            return AttributeSpec(spec.key, spec.label, spec.kind, dnc_channels(), source="dnc")
        return spec

    def event(self, name: str) -> EventDefinition | None:
        return self.events.get(str(name).lower())

    def attributes(self) -> list[AttributeSpec]:
        """Every attribute, for the editor's drop-down."""
        found = [self.attribute(spec.key) or spec for spec in STANDARD]
        found += [self.attribute(f"custom.{d.name}") for d in self.custom.values()]
        return found
