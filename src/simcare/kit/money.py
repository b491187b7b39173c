"""Money is integer cents (CAD). Formatting follows the active locale."""

from __future__ import annotations

from django.utils import translation

CURRENCY = "CAD"


def format_cents(cents: int | None, *, language: str | None = None) -> str:
    """1234 → "$12.34" (en), "12,34 $" (fr), "12.34 加元" (zh-hans)."""
    if cents is None:
        return ""
    language = language or translation.get_language() or "en"
    sign = "-" if cents < 0 else ""
    dollars, remainder = divmod(abs(cents), 100)
    if language.startswith("fr"):
        grouped = f"{dollars:,}".replace(",", "\u202f")
        return f"{sign}{grouped},{remainder:02d}\u00a0$"
    if language.startswith("zh"):
        return f"{sign}{dollars:,}.{remainder:02d} 加元"
    return f"{sign}${dollars:,}.{remainder:02d}"
