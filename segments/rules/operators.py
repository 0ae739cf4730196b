"""The operator table of the rule language: which operators each kind of attribute takes and what
shape of value each operator wants. The validator, the compiler, the editor's drop-downs and the
API schema all read this one table (docs/rules.md shows it to users)."""

from __future__ import annotations

from dataclasses import dataclass

from segments.rules import event_time

# Value shapes.
NONE = "none"  # no value (is_empty / is_not_empty)
SCALAR = "scalar"  # one value of the attribute's type
LIST = "list"  # a non-empty list of values of the attribute's type
RELATIVE = "relative"  # {"amount": N, "unit": "days|weeks|months"}

# Attribute kinds (custom attribute types plus the special keys).
TEXT = "text"
INTEGER = "integer"
DECIMAL = "decimal"
BOOLEAN = "boolean"
DATE = "date"
DATETIME = "datetime"
CHOICE = "choice"  # a standard column with fixed values (type, gender)
TAGS = "tags"
DNC = "dnc"

LABELS = {
    "is": "is",
    "is_not": "is not",
    "in": "is any of",
    "not_in": "is none of",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
    "lt": "is less than",
    "lte": "is at most",
    "gte": "is at least",
    "gt": "is greater than",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "contains": "contains",
    "not_contains": "does not contain",
    "before": "is before",
    "until": "is on or before",
    "since": "is on or after",
    "after": "is after",
    "will_be_in": "will be in exactly",
    "will_be_within": "will be within the next",
    "will_be_more_than": "will be in more than",
    "was": "was exactly",
    "was_within": "was within the last",
    "was_more_than": "was more than",
}

_ANY = {"is": SCALAR, "is_not": SCALAR, "in": LIST, "not_in": LIST, "is_empty": NONE, "is_not_empty": NONE}
_NUMBER = {"lt": SCALAR, "lte": SCALAR, "gte": SCALAR, "gt": SCALAR}
_TEXT = {"starts_with": SCALAR, "ends_with": SCALAR, "contains": SCALAR, "not_contains": SCALAR}
_DATE = {
    "before": SCALAR,
    "until": SCALAR,
    "since": SCALAR,
    "after": SCALAR,
    "will_be_in": RELATIVE,
    "will_be_within": RELATIVE,
    "will_be_more_than": RELATIVE,
    "was": RELATIVE,
    "was_within": RELATIVE,
    "was_more_than": RELATIVE,
}

# kind -> {operator: value shape}, in the order the editor offers them.
OPERATORS: dict[str, dict[str, str]] = {
    TEXT: {**_ANY, **_TEXT},
    INTEGER: {**_ANY, **_NUMBER},
    DECIMAL: {**_ANY, **_NUMBER},
    BOOLEAN: {"is": SCALAR, "is_not": SCALAR, "is_empty": NONE, "is_not_empty": NONE},
    DATE: {**_ANY, **_DATE},
    DATETIME: {**_ANY, **_DATE},
    CHOICE: dict(_ANY),
    TAGS: dict(_ANY),
    DNC: {"is": SCALAR, "is_not": SCALAR},
}

# Each negative operator is the exact complement of its positive one.
NEGATIONS = {"is_not": "is", "not_in": "in", "is_not_empty": "is_empty", "not_contains": "contains"}

RELATIVE_UNITS = ("days", "weeks", "months")
EVENT_TIME_UNITS = event_time.UNITS
EVENT_TIME_OPERATORS = event_time.OPERATORS  # their shapes, words and bounds: event_time.WINDOWS
OCCURRENCE_OPERATORS = ("equals", "lt", "lte", "gte", "gt")
MATCHES = ("all", "any")

MAX_CONDITIONS = 25
MAX_EVENT_CLAUSES = 5
MAX_DEPTH = 3
MAX_LIST = 500
MAX_AMOUNT = 10_000


@dataclass(frozen=True)
class AttributeSpec:
    """What a rule's attribute key stands for."""

    key: str
    label: str
    kind: str
    choices: tuple[tuple[str, str], ...] = ()
    source: str = "column"  # column | custom | tags | contact | company | dnc


def operators_for(kind: str) -> dict[str, str]:
    return OPERATORS[kind]


def schema() -> dict:
    """The table as plain data (for the API schema and the editor)."""
    return {
        "operators": {
            kind: {op: {"label": LABELS[op], "value": shape} for op, shape in ops.items()}
            for kind, ops in OPERATORS.items()
        },
        "relative_units": list(RELATIVE_UNITS),
        "event_time_operators": list(EVENT_TIME_OPERATORS),
        "event_time_units": list(EVENT_TIME_UNITS),
        "occurrence_operators": list(OCCURRENCE_OPERATORS),
        "limits": {"conditions": MAX_CONDITIONS, "event_clauses": MAX_EVENT_CLAUSES, "depth": MAX_DEPTH},
    }
