"""Refusals of the reseller API, each with a stable code (60-partners.md)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from simcare.kit.problems import DomainError


class PartnerError(DomainError):
    pass


class InsufficientFloat(PartnerError):
    code = "insufficient_float"

    def default_message(self) -> str:
        return _("Your float balance is too low for this order. Top it up and try again.")


class UnknownPlan(PartnerError):
    code = "unknown_plan"

    def default_message(self) -> str:
        return _("There is no plan or add-on on sale with this code.")


class MsisdnRequired(PartnerError):
    code = "msisdn_required"

    def default_message(self) -> str:
        return _("Renewals and add-ons need the line's mobile number (msisdn).")


class ResellerLineNotRenewable(PartnerError):
    """Unknown, closed or not a mobile number: one answer, so a reseller learns nothing."""

    code = "line_not_renewable"
    status = 409

    def default_message(self) -> str:
        return _("This number cannot be renewed.")


class InvalidStatementMonth(PartnerError):
    code = "invalid_month"

    def default_message(self) -> str:
        return _("Give the month as YYYY-MM.")


class InvalidTopUp(PartnerError):
    code = "invalid_top_up"

    def default_message(self) -> str:
        return _("A float top-up is a positive amount from cash or a clearing account.")


class OrderPending(PartnerError):
    """The order was not answered in time; it may still be placed, so the same
    external_order_no again returns it (or places it)."""

    code = "order_pending"
    status = 503

    def default_message(self) -> str:
        return _(
            "Your order is taking longer than usual. Send it again with the same "
            "external_order_no to get its result."
        )
