"""Event time windows (`"time": {"operator": "within_last", "amount": 7, "unit": "days"}`): every
operator's value shape, its words and its bounds, in this one table. The validator checks a window
by its shape, the compiler reads its bounds and the explanation its words; an operator missing
here is refused by the validator and raises `UnknownOperator` in the compiler."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.dateparse import parse_datetime

from segments.rules.errors import UnknownOperator

UNITS = ("minutes", "hours", "days")

# Value shapes of a window.
NONE = "none"  # no value
AGO = "ago"  # {"amount": N, "unit": ...}
AGO_RANGE = "ago_range"  # {"from": N, "to": M, "unit": ...}, from < to
MOMENT = "moment"  # {"value": "YYYY-MM-DDTHH:MM..."}
MOMENTS = "moments"  # {"start": ..., "end": ...}, start <= end

Bound = tuple[str, dt.datetime | None]  # (lookup, moment); None is an open end


def _ago(time: dict, now: dt.datetime, amount: int) -> dt.datetime:
    return now - dt.timedelta(**{time["unit"]: amount})


def _moment(text: str) -> dt.datetime | None:
    return parse_datetime(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Window:
    shape: str
    words: Callable[[dict], str]  # the window in the explanation's words
    bounds: Callable[[dict, dt.datetime], tuple[Bound, Bound]]  # (lower, upper) at `now`


WINDOWS: dict[str, Window] = {
    "any_time": Window(NONE, lambda t: "at any time", lambda t, now: (("gte", None), ("lte", None))),
    "within_last": Window(
        AGO,
        lambda t: f"in the last {t['amount']} {t['unit']}",
        lambda t, now: (("gte", _ago(t, now, t["amount"])), ("lte", None)),
    ),
    "before_last": Window(
        AGO,
        lambda t: f"more than {t['amount']} {t['unit']} ago",
        lambda t, now: (("gte", None), ("lt", _ago(t, now, t["amount"]))),
    ),
    "between_last": Window(
        AGO_RANGE,
        lambda t: f"between {t['from']} and {t['to']} {t['unit']} ago",
        lambda t, now: (("gte", _ago(t, now, t["to"])), ("lte", _ago(t, now, t["from"]))),
    ),
    "after": Window(
        MOMENT, lambda t: f"after {t['value']}", lambda t, now: (("gt", _moment(t["value"])), ("lte", None))
    ),
    "before": Window(
        MOMENT, lambda t: f"before {t['value']}", lambda t, now: (("gte", None), ("lt", _moment(t["value"])))
    ),
    "between": Window(
        MOMENTS,
        lambda t: f"between {t['start']} and {t['end']}",
        lambda t, now: (("gte", _moment(t["start"])), ("lte", _moment(t["end"]))),
    ),
}
OPERATORS = tuple(WINDOWS)


def window(operator: str) -> Window:
    try:
        return WINDOWS[operator]
    except KeyError:
        raise UnknownOperator(operator, "an event time") from None
