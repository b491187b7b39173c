"""ICCIDs (ITU-T E.118): 19 or 20 digits, 89 prefix, Luhn check digit."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from simcare.kit.iccid import (
    InvalidIccid,
    is_luhn_valid,
    luhn_check_digit,
    make_iccid,
    normalize_iccid,
    validate_iccid,
)

VALID_19 = "8912300000000000013"
VALID_20 = "89012608822604283301"


def test_the_luhn_digit_of_known_numbers() -> None:
    assert luhn_check_digit("7992739871") == 3  # the textbook example
    assert luhn_check_digit("891230000000000001") == 3
    assert is_luhn_valid("79927398713")
    assert not is_luhn_valid("79927398710")


@pytest.mark.parametrize("iccid", [VALID_19, VALID_20])
def test_valid_iccids_of_19_and_20_digits(iccid: str) -> None:
    assert normalize_iccid(iccid) == iccid
    validate_iccid(iccid)


def test_spaces_inside_are_ignored() -> None:
    assert normalize_iccid(" 8912 3000 0000 0000 013 ") == VALID_19


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("8912300000000000017", "The ICCID check digit is wrong."),
        ("89012608822604283302", "The ICCID check digit is wrong."),
        ("8912300000000000A17", "An ICCID is 19 or 20 digits."),
        ("891230000000000001", "An ICCID is 19 or 20 digits."),
        ("891230000000000000017", "An ICCID is 19 or 20 digits."),
        ("", "An ICCID is 19 or 20 digits."),
        (make_iccid("441230000000000001"), "An ICCID starts with 89 (telecommunications)."),
    ],
    ids=[
        "wrong-check-digit-19",
        "wrong-check-digit-20",
        "letter",
        "18-digits",
        "21-digits",
        "empty",
        "wrong-prefix",
    ],
)
def test_invalid_iccids_are_refused_with_a_reason(raw: str, message: str) -> None:
    with pytest.raises(InvalidIccid) as refusal:
        normalize_iccid(raw)
    with pytest.raises(ValidationError) as validation:
        validate_iccid(raw)

    assert (refusal.value.code, str(refusal.value)) == ("invalid_iccid", message)
    assert validation.value.messages == [message]


_bodies = st.one_of(
    st.text("0123456789", min_size=16, max_size=16),
    st.text("0123456789", min_size=17, max_size=17),
).map(lambda digits: "89" + digits)


@given(body=_bodies)
def test_make_iccid_always_gives_a_valid_iccid(body: str) -> None:
    iccid = make_iccid(body)

    assert len(iccid) == len(body) + 1
    assert normalize_iccid(iccid) == iccid


@given(body=_bodies, data=st.data())
def test_any_single_digit_change_is_caught(body: str, data: st.DataObject) -> None:
    # given
    iccid = make_iccid(body)
    position = data.draw(st.integers(min_value=0, max_value=len(iccid) - 1), label="position")
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != iccid[position]]))
    changed = iccid[:position] + digit + iccid[position + 1 :]

    # then
    with pytest.raises(InvalidIccid):
        normalize_iccid(changed)
