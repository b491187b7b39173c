"""Money is integer cents, formatted for the reader's language."""

from __future__ import annotations

import pytest
from django.utils import translation

from simcare.kit.money import format_cents

NARROW_NBSP = "\u202f"
NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("cents", "language", "text"),
    [
        (1234, "en", "$12.34"),
        (1234, "fr", f"12,34{NBSP}$"),
        (1234, "zh-hans", "12.34 加元"),
        (0, "en", "$0.00"),
        (5, "fr", f"0,05{NBSP}$"),
        (123456789, "en", "$1,234,567.89"),
        (123456789, "fr", f"1{NARROW_NBSP}234{NARROW_NBSP}567,89{NBSP}$"),
        (123456789, "zh-hans", "1,234,567.89 加元"),
        (-2500, "en", "-$25.00"),
        (-2500, "fr", f"-25,00{NBSP}$"),
        (-2500, "zh-hans", "-25.00 加元"),
        (1234, "fr-ca", f"12,34{NBSP}$"),
    ],
)
def test_cents_are_formatted_per_language(cents: int, language: str, text: str) -> None:
    assert format_cents(cents, language=language) == text


def test_the_active_language_is_used_when_none_is_given() -> None:
    with translation.override("fr"):
        assert format_cents(3500) == f"35,00{NBSP}$"
    with translation.override("zh-hans"):
        assert format_cents(3500) == "35.00 加元"
    with translation.override("en"):
        assert format_cents(3500) == "$35.00"


def test_no_amount_is_an_empty_string() -> None:
    assert format_cents(None, language="en") == ""
