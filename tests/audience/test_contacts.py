from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from audience.contacts import normalize_email, normalize_phone


@pytest.mark.parametrize(
    "raw",
    ["+385 91 234 5678", "00385 91 234 5678", "385912345678", "+385 (91) 234-5678", "+385.91.234.5678"],
)
def test_it_normalises_every_international_form_to_one_e164(raw):
    assert normalize_phone(raw) == "+385912345678"


def test_it_refuses_a_national_number_and_shows_the_expected_form():
    with pytest.raises(ValidationError) as error:
        normalize_phone("01234 567890")
    assert "international format" in error.value.messages[0]
    assert "+44 7911 123456" in error.value.messages[0]


@pytest.mark.parametrize("raw", ["", "   ", "hello", "+1", "+999 123"])
def test_it_refuses_what_is_not_a_phone(raw):
    with pytest.raises(ValidationError):
        normalize_phone(raw)


def test_it_lower_cases_emails():
    assert normalize_email("  Jane.Smith@Example.COM ") == "jane.smith@example.com"


@pytest.mark.parametrize("raw", ["", "jane", "jane@", "@example.com", "jane@@example.com"])
def test_it_refuses_bad_emails_naming_the_value(raw):
    with pytest.raises(ValidationError):
        normalize_email(raw)
