"""Refusals of account actions, each with a stable code and a translated message."""

from __future__ import annotations

from django.utils.translation import gettext as _

from simcare.kit.problems import DomainError


class AccountError(DomainError):
    """Base of the accounts app's refusals."""

    status = 422


class LanguageInvalid(AccountError):
    code = "language_invalid"

    def default_message(self) -> str:
        return _("Choose a language from the list.")


class NoChannelLeft(AccountError):
    code = "no_channel_left"

    def default_message(self) -> str:
        return _(
            "Keep email or text messages on: we must be able to tell you about your lines "
            "and payments."
        )


class ChannelWithoutAddress(AccountError):
    code = "channel_without_address"

    def default_message(self) -> str:
        return _("We have no address for the only channel you chose.")


class PinInvalid(AccountError):
    code = "pin_invalid"

    def default_message(self) -> str:
        return _("The PIN must be 4 to 8 digits.")


class PinMismatch(AccountError):
    code = "pin_mismatch"

    def default_message(self) -> str:
        return _("The two PINs are not the same.")


class PasswordIncorrect(AccountError):
    code = "password_incorrect"
    status = 403

    def default_message(self) -> str:
        return _("Your password is not correct.")


class ConfirmationMissing(AccountError):
    code = "confirmation_missing"

    def default_message(self) -> str:
        return _("Tick the box to confirm that you want to close your account.")


class AccountClosed(AccountError):
    code = "account_closed"
    status = 409

    def default_message(self) -> str:
        return _("This account is already closed.")


class ExportTooSoon(AccountError):
    code = "export_too_soon"
    status = 429

    def default_message(self) -> str:
        return _("You downloaded your data a moment ago. Please wait a few minutes and try again.")
