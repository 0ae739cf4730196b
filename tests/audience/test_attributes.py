from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from audience.attributes import attribute_value_display, attribute_value_parse
from audience.models import AttributeType


@pytest.mark.parametrize(
    ("type_", "raw", "stored"),
    [
        (AttributeType.TEXT, "  Gold ", "Gold"),
        (AttributeType.INTEGER, "1,200", 1200),
        (AttributeType.INTEGER, 7, 7),
        (AttributeType.INTEGER, "3.0", 3),
        (AttributeType.DECIMAL, "12.50", 12.5),
        (AttributeType.DECIMAL, "12", 12),
        (AttributeType.BOOLEAN, "Yes", True),
        (AttributeType.BOOLEAN, "0", False),
        (AttributeType.BOOLEAN, True, True),
        (AttributeType.DATE, "2024-02-29", "2024-02-29"),
        (AttributeType.DATE, dt.date(2024, 1, 5), "2024-01-05"),
        (AttributeType.DATETIME, "2024-02-29 13:45", "2024-02-29T13:45:00Z"),
        (AttributeType.DATETIME, "2024-02-29T13:45:00+02:00", "2024-02-29T11:45:00Z"),
        (AttributeType.DATETIME, "2024-02-29", "2024-02-29T00:00:00Z"),
    ],
)
def test_it_stores_each_type_in_its_json_form(type_, raw, stored):
    assert attribute_value_parse(type_, raw) == stored


@pytest.mark.parametrize(
    ("type_", "raw"),
    [
        (AttributeType.INTEGER, "3.5"),
        (AttributeType.INTEGER, "three"),
        (AttributeType.INTEGER, True),
        (AttributeType.DECIMAL, "NaN"),
        (AttributeType.DECIMAL, "1.2.3"),
        (AttributeType.BOOLEAN, "maybe"),
        (AttributeType.DATE, "2023-02-29"),
        (AttributeType.DATE, "31/12/2024"),
        (AttributeType.DATETIME, "yesterday"),
    ],
)
def test_it_refuses_values_of_the_wrong_type_saying_what_was_expected(type_, raw):
    with pytest.raises(ValidationError) as error:
        attribute_value_parse(type_, raw)
    assert "is not" in error.value.messages[0]


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_it_treats_blank_as_no_value(raw):
    assert attribute_value_parse(AttributeType.INTEGER, raw) is None


def test_it_displays_values_for_people():
    assert attribute_value_display(AttributeType.BOOLEAN, False) == "No"
    assert attribute_value_display(AttributeType.DATETIME, "2024-02-29T11:45:00Z") == "29 Feb 2024, 11:45"
    assert attribute_value_display(AttributeType.INTEGER, None) == ""


def test_a_datetime_is_shown_in_the_current_time_zone():
    with timezone.override("America/New_York"):
        shown = attribute_value_display(AttributeType.DATETIME, "2024-03-01T03:15:00Z")
    assert shown == "29 Feb 2024, 22:15"
