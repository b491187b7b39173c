"""North American numbers: national forms in, E.164 out; everything else refused."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from simcare.kit.phone import InvalidPhoneNumber, format_national, normalize_msisdn, validate_msisdn


@pytest.mark.parametrize(
    "raw",
    [
        "(416) 555-0142",
        "416-555-0142",
        "416.555.0142",
        "4165550142",
        "1 416 555 0142",
        "1-416-555-0142",
        "+1 416 555 0142",
        "+14165550142",
        "  +1 (416) 555-0142  ",
    ],
)
def test_national_and_international_forms_give_e164(raw: str) -> None:
    assert normalize_msisdn(raw) == "+14165550142"


def test_us_numbers_are_north_american_too() -> None:
    assert normalize_msisdn("(212) 555-0199") == "+12125550199"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "A phone number is required."),
        ("   ", "A phone number is required."),
        ("abc", "This is not a phone number."),
        ("+44 20 7946 0958", "Enter a valid North American (+1) phone number."),
        ("+33 1 42 68 53 00", "Enter a valid North American (+1) phone number."),
        ("911", "Enter a valid North American (+1) phone number."),
        ("555-0142", "Enter a valid North American (+1) phone number."),
        ("416555014", "Enter a valid North American (+1) phone number."),
        ("41655501420", "Enter a valid North American (+1) phone number."),
        ("+1 123 456 7890", "Enter a valid North American (+1) phone number."),
    ],
    ids=[
        "empty",
        "blank",
        "letters",
        "uk",
        "france",
        "short-code",
        "seven-digits",
        "nine-digits",
        "eleven-digits",
        "area-code-starting-with-1",
    ],
)
def test_other_input_is_refused_with_a_reason(raw: str, message: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as refusal:
        normalize_msisdn(raw)

    assert (refusal.value.code, str(refusal.value)) == ("invalid_msisdn", message)


def test_the_field_validator_wants_the_stored_form_to_be_e164() -> None:
    validate_msisdn("+14165550142")

    with pytest.raises(ValidationError) as national:
        validate_msisdn("4165550142")
    with pytest.raises(ValidationError) as foreign:
        validate_msisdn("+442079460958")

    assert national.value.code == "not_e164"
    assert foreign.value.code == "invalid_msisdn"


def test_display_uses_the_national_format() -> None:
    assert format_national("+14165550142") == "(416) 555-0142"
