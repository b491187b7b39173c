"""Field encryption with keys from the environment (MultiFernet, so keys rotate).

The first key in SIMCARE_FIELD_KEYS encrypts; every key decrypts. After adding
a new key in front, `simcare rotate-field-keys` re-encrypts the stored values.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plain: str) -> str:
    return fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    return fernet().decrypt(token.encode()).decode()


def rotate(token: str) -> str:
    return fernet().rotate(token.encode()).decode()


def mask(plain: str, *, visible: int = 3) -> str:
    """ "AB1234567" → "••••••567": enough for a person to recognise their own."""
    if not plain:
        return ""
    shown = plain[-visible:] if len(plain) > visible else ""
    return "•" * max(len(plain) - len(shown), 3) + shown


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Stores Fernet ciphertext; Python code only ever sees the plain text.

    Not searchable or sortable by design: a document number is looked up by
    its owner, never by value.
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        try:
            return decrypt(value)
        except InvalidToken as error:
            raise ValueError("encrypted field cannot be read with the configured keys") from error

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))
