"""Refusals of line actions, each with a stable code (API problem+json) and a translated message."""

from __future__ import annotations

from django.utils.translation import gettext as _

from simcare.kit.problems import DomainError


class LineError(DomainError):
    """Base of the lines app's refusals."""

    status = 409


class NoNumberAvailable(LineError):
    code = "no_number_available"

    def default_message(self) -> str:
        return _("No phone number is available right now. Please try again later.")


class NumberUnavailable(LineError):
    code = "number_unavailable"

    def default_message(self) -> str:
        return _("This phone number is not available.")


class NoSimAvailable(LineError):
    code = "no_sim_available"

    def default_message(self) -> str:
        return _("No SIM card of this kind is in stock right now.")


class SimUnavailable(LineError):
    code = "sim_unavailable"

    def default_message(self) -> str:
        return _("This SIM card is not in stock or is not of the requested kind.")


class LineRecycled(LineError):
    code = "line_recycled"

    def default_message(self) -> str:
        return _("This line is closed and its number has been released; it cannot be renewed.")


class StockFileRefused(DomainError):
    """A stock CSV refused whole (unreadable, not CSV, wrong header): nothing was imported."""

    code = "stock_file_refused"
    status = 422

    def default_message(self) -> str:
        return _("This file cannot be imported.")


class NotAnEsim(DomainError):
    """An activation code was asked for a SIM that is not an eSIM profile."""

    code = "not_an_esim"
    status = 422

    def default_message(self) -> str:
        return _("Only an eSIM has an activation code.")


class SimKindMismatch(LineError):
    """A SIM swap onto a card of the other kind (a physical line needs a physical card)."""

    code = "sim_kind_mismatch"

    def default_message(self) -> str:
        return _("The new SIM card must be of the same kind as the line's.")


class LineNotLive(LineError):
    """An action on a line that is closed (recycled)."""

    code = "line_not_live"

    def default_message(self) -> str:
        return _("This line is closed.")
