"""North American E.164 numbers, validated with phonenumbers."""

from __future__ import annotations

import functools

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


class InvalidPhoneNumber(ValueError):
    code = "invalid_msisdn"


def normalize_msisdn(raw: str, *, region: str = "CA") -> str:
    """Return the E.164 form of a +1 NANP number, or raise InvalidPhoneNumber.

    "(416) 555-0142" and "+1 416 555 0142" both give "+14165550142".
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber(str(_("A phone number is required.")))
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneNumber(str(_("This is not a phone number."))) from error
    if parsed.country_code != 1 or not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(str(_("Enter a valid North American (+1) phone number.")))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_msisdn(value: str) -> None:
    """Django field validator: the stored value must already be E.164 +1."""
    try:
        normalized = normalize_msisdn(value)
    except InvalidPhoneNumber as error:
        raise ValidationError(str(error), code="invalid_msisdn") from error
    if normalized != value:
        raise ValidationError(_("Store numbers in E.164 form, e.g. +14165550142."), code="not_e164")


@functools.lru_cache(maxsize=4096)
def format_national(msisdn: str) -> str:
    """ "+14165550142" → "(416) 555-0142" for display (remembered: pages show the same
    numbers again and again, and parsing one costs more than the rest of its line)."""
    parsed = phonenumbers.parse(msisdn, "CA")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
