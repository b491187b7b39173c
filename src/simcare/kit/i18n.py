"""Content stored in three languages (zh-hans, en, fr) as sibling columns."""

from __future__ import annotations

from django.utils import translation

LANGUAGE_SUFFIXES = {"zh-hans": "zh_hans", "en": "en", "fr": "fr"}


def suffix_for(language: str | None) -> str:
    language = (language or "en").lower()
    if language.startswith("zh"):
        return "zh_hans"
    return LANGUAGE_SUFFIXES.get(language[:2], "en")


class TranslatedContent:
    """Mixin: `obj.translated("name")` reads name_<active language>, falling back to English."""

    def translated(self, field: str, language: str | None = None) -> str:
        suffix = suffix_for(language or translation.get_language())
        value = getattr(self, f"{field}_{suffix}", "") or ""
        return value or getattr(self, f"{field}_en", "") or ""
