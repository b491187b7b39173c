"""Refusals of the hotline's account actions, each with a stable code."""

from __future__ import annotations

from django.utils.translation import gettext as _

from simcare.kit.problems import DomainError


class IvrError(DomainError):
    status = 422


class CallerUnknown(IvrError):
    code = "ivr_caller_unknown"

    def default_message(self) -> str:
        return _("We could not find an account for the number you are calling from.")


class PinRequired(IvrError):
    """The account action needs an account PIN keyed in on this call in the last 15 minutes."""

    code = "ivr_pin_required"
    status = 403

    def default_message(self) -> str:
        return _("Please enter your account PIN first.")
