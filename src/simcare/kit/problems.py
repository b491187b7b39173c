"""Errors with a stable code and a translatable message (each app's errors.py builds on this)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext


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


# --- refusals at the edge of an API, shared by every audience (subscribers, resellers) -------


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    status = 401

    def default_message(self) -> str:
        return gettext("Send a valid API token in the Authorization header (Bearer).")


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status = 401

    def default_message(self) -> str:
        return gettext("The username or the password is not correct.")


class NotFound(DomainError):
    code = "not_found"
    status = 404

    def default_message(self) -> str:
        return gettext("There is nothing here, or it is not yours.")


class MethodNotAllowed(DomainError):
    code = "method_not_allowed"
    status = 405

    def default_message(self) -> str:
        return gettext("This address does not accept this HTTP method.")


class BadRequest(DomainError):
    code = "bad_request"
    status = 400

    def default_message(self) -> str:
        return gettext("The request could not be understood.")


class TooManyRequests(DomainError):
    """Throttled; `retry_after` (seconds) tells the client when to try again."""

    code = "too_many_requests"
    status = 429

    def __init__(
        self, message: str | Promise | None = None, *, retry_after: int = 60, **details: object
    ) -> None:
        super().__init__(message, retry_after=retry_after, **details)

    def default_message(self) -> str:
        return gettext("Too many attempts. Please wait and try again.")
