"""Refusals of identity checks and of the account actions agents take in the console,
each with a stable code and a translated message. A refused action changes nothing."""

from __future__ import annotations

from django.utils.translation import gettext as _

from simcare.kit.problems import DomainError


class NotServingChat(DomainError):
    code = "verify_not_serving"
    status = 409

    def default_message(self) -> str:
        return _("Only the agent serving this chat can do this, while the chat is open.")


class NoCustomer(DomainError):
    code = "verify_no_customer"
    status = 422

    def default_message(self) -> str:
        return _("This chat is not linked to a customer account.")


class CodeChannelUnavailable(DomainError):
    code = "verify_channel_unavailable"
    status = 422

    def default_message(self) -> str:
        return _("Choose one of the customer's lines, or email for an account with an address.")


class PinDobUnavailable(DomainError):
    code = "verify_pin_dob_unavailable"
    status = 422

    def default_message(self) -> str:
        return _("This account has no PIN or no date of birth on file: send a code instead.")


class PinDobIncomplete(DomainError):
    code = "verify_pin_dob_incomplete"
    status = 422

    def default_message(self) -> str:
        return _("Enter the account PIN and the date of birth (YYYY-MM-DD).")


class VerificationLocked(DomainError):
    code = "verify_locked"
    status = 429

    def default_message(self) -> str:
        return _(
            "Too many failed identity checks for this account: try again in an hour, "
            "or ask the customer to visit a store."
        )


class NoCodePending(DomainError):
    code = "verify_no_code"
    status = 409

    def default_message(self) -> str:
        return _("No code is waiting to be entered in this chat.")


class VerificationRequired(DomainError):
    code = "verify_required"
    status = 403

    def default_message(self) -> str:
        return _(
            "Verify the customer's identity first: this action needs a successful check "
            "in this chat within the last 15 minutes."
        )


class LineNotOfCustomer(DomainError):
    code = "verify_line_not_found"
    status = 404

    def default_message(self) -> str:
        return _("This line is not one of this customer's.")


class FeedbackRefused(DomainError):
    code = "chat_feedback_refused"
    status = 422

    def default_message(self) -> str:
        return _("This message did not answer with a help article.")


class CustomerNotFound(DomainError):
    code = "verify_customer_not_found"
    status = 404

    def default_message(self) -> str:
        return _(
            "No account has this line number, mobile number or email address "
            "(a signed-in visitor's chat stays linked to their own account)."
        )
