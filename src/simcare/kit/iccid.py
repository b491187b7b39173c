"""ICCIDs (ITU-T E.118): 19 or 20 digits ending in a Luhn check digit."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


class InvalidIccid(ValueError):
    code = "invalid_iccid"


def luhn_check_digit(payload: str) -> int:
    """The digit that makes payload + digit pass the Luhn check."""
    total = 0
    for position, char in enumerate(reversed(payload)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def is_luhn_valid(number: str) -> bool:
    return number.isdigit() and luhn_check_digit(number[:-1]) == int(number[-1])


def normalize_iccid(raw: str) -> str:
    text = "".join((raw or "").split())
    if not text.isdigit() or len(text) not in (19, 20):
        raise InvalidIccid(str(_("An ICCID is 19 or 20 digits.")))
    if not text.startswith("89"):
        raise InvalidIccid(str(_("An ICCID starts with 89 (telecommunications).")))
    if not is_luhn_valid(text):
        raise InvalidIccid(str(_("The ICCID check digit is wrong.")))
    return text


def validate_iccid(value: str) -> None:
    try:
        normalize_iccid(value)
    except InvalidIccid as error:
        raise ValidationError(str(error), code="invalid_iccid") from error


def make_iccid(body: str) -> str:
    """Append the Luhn digit to an 18- or 19-digit body (used by demo data and tests)."""
    return body + str(luhn_check_digit(body))
