"""Errors with a stable code and a translatable message (each app's errors.py builds on this)."""

from __future__ import annotations

from django.utils.functional import Promise


class DomainError(Exception):
    """An expected business outcome that refuses an action: never a 500."""

    code: str = "error"
    status: int = 422

    def __init__(self, message: str | Promise | None = None, **details: object) -> None:
        self.details = details
        self.message = str(message) if message is not None else self.default_message()
        super().__init__(self.message)

    def default_message(self) -> str:
        return self.code
