"""Canned responses: fill {first_name}, {msisdn}, {expiry_date} placeholders (pure)."""

from __future__ import annotations

import string


class _Keep(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(body: str, values: dict[str, str]) -> str:
    """The body with known placeholders replaced; unknown ones and stray braces stay as
    written (an agent's text is never an error)."""
    try:
        return string.Formatter().vformat(body, (), _Keep(values))
    except (ValueError, IndexError, AttributeError, KeyError):
        return body
