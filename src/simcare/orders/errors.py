"""Refusals of money actions, each with a stable code (API problem+json) and a message."""

from __future__ import annotations

from django.utils.translation import gettext as _

from simcare.kit.problems import DomainError


class OrderError(DomainError):
    """Base of the orders app's refusals."""

    status = 422


class IdempotencyConflict(OrderError):
    """The idempotency key was already used for a different request."""

    code = "idempotency_conflict"
    status = 409

    def default_message(self) -> str:
        return _("This request key was already used for a different order.")


class WalletShort(OrderError):
    code = "wallet_short"

    def default_message(self) -> str:
        return _("Your wallet balance is too low for this order. Top up and try again.")


class CouponRefused(OrderError):
    """A coupon that does not exist or cannot be used here; details["reason"] says why."""

    code = "coupon_invalid"

    def default_message(self) -> str:
        reason = self.details.get("reason")
        messages = {
            "unknown": _("This coupon code does not exist."),
            "inactive": _("This coupon is no longer available."),
            "not_yet_valid": _("This coupon is not valid yet."),
            "expired": _("This coupon has expired."),
            "minimum_spend": _("This order does not reach the coupon's minimum spend."),
            "exhausted": _("This coupon has been used up."),
            "customer_limit": _("You have already used this coupon."),
            "first_order_only": _("This coupon is for a first order only."),
            "not_applicable": _("This coupon does not apply to this purchase."),
        }
        return str(messages.get(str(reason), _("This coupon cannot be used.")))


class PaymentMethodUnavailable(OrderError):
    code = "payment_method_unavailable"

    def default_message(self) -> str:
        return _("This payment method is not available here.")


class PlanUnavailable(OrderError):
    code = "plan_unavailable"

    def default_message(self) -> str:
        return _("This plan or add-on is not on sale.")


class InvalidOrder(OrderError):
    """A request missing what its kind needs (a programming or client error)."""

    code = "invalid_order"

    def default_message(self) -> str:
        return _("This order is incomplete or inconsistent.")


class LineNotRenewable(OrderError):
    code = "line_not_renewable"
    status = 409

    def default_message(self) -> str:
        return _("This line is closed and can no longer be renewed.")


class LineNotActive(OrderError):
    code = "line_not_active"
    status = 409

    def default_message(self) -> str:
        return _("Add-ons can only be bought for an active line. Renew the line first.")


class OrderNotPayable(OrderError):
    code = "order_not_payable"
    status = 409

    def default_message(self) -> str:
        return _("This order can no longer be paid.")


class PaymentAmountMismatch(OrderError):
    code = "payment_amount_mismatch"
    status = 409

    def default_message(self) -> str:
        return _("The amount paid does not match the order total.")


class OrderNotCancellable(OrderError):
    code = "order_not_cancellable"
    status = 409

    def default_message(self) -> str:
        return _("Only an order awaiting payment can be cancelled.")


class RefundRefused(OrderError):
    code = "refund_refused"
    status = 409

    def default_message(self) -> str:
        return _("This refund cannot be made.")


class RefundTooLarge(OrderError):
    code = "refund_too_large"

    def default_message(self) -> str:
        return _("The refund is larger than what is left to refund on this order.")


# --- vouchers ---------------------------------------------------------------------------


class VoucherInvalid(OrderError):
    """A PIN that redeems nothing: unknown, mistyped, already redeemed, expired or void.

    details["reason"] says which ("unknown", "malformed", "redeemed", "expired", "void");
    every reason counts as a failed PIN for the lockout.
    """

    code = "voucher_invalid"
    status = 422

    def default_message(self) -> str:
        return _("This PIN does not match any voucher. Check the 16 digits and try again.")

    @classmethod
    def because(cls, reason: str, **details: object) -> VoucherInvalid:
        messages = {
            "malformed": _("A voucher PIN has 16 digits. Check the card and try again."),
            "redeemed": _("This voucher has already been redeemed."),
            "expired": _("This voucher has expired."),
            "void": _("This voucher is no longer valid."),
        }
        return cls(messages.get(reason), reason=reason, **details)


class VoucherLocked(OrderError):
    """Too many failed PINs: the account or the IP may not redeem for a while.

    details["retry_after_seconds"] says how long (the API's Retry-After header).
    """

    code = "voucher_locked"
    status = 429

    def default_message(self) -> str:
        return _("Too many wrong voucher PINs. For your security, redeeming is paused for an hour.")


class VoucherPinsUnavailable(OrderError):
    """The one-time PIN download of a batch was taken, or its 30 minutes ran out."""

    code = "voucher_pins_unavailable"
    status = 410

    def default_message(self) -> str:
        return _(
            "The PINs of this batch are no longer available: they can be downloaded once, "
            "within 30 minutes of generating the batch. If they were lost, void the batch "
            "and generate a new one."
        )


class VoucherBatchRefused(OrderError):
    """A batch that cannot be generated as asked (count, value or expiry out of range)."""

    code = "voucher_batch_refused"
    status = 422


class ReceiptNotAvailable(OrderError):
    """Only a paid, fulfilled or refunded order has a receipt."""

    code = "receipt_not_available"
    status = 409

    def default_message(self) -> str:
        return _("This order has no receipt: it has not been paid.")


# --- payment providers (Stripe, PayPal) --------------------------------------------------------


class PaymentProviderError(OrderError):
    """A payment provider refused or failed a call. retryable tells a try-again-later failure
    (network, timeout, the provider's 5xx, rate limit) from a final one (card declined)."""

    code = "payment_provider_error"
    status = 502
    retryable = False

    def default_message(self) -> str:
        return _("The payment provider could not complete this payment.")


class PaymentProviderUnavailable(PaymentProviderError):
    code = "payment_provider_unavailable"
    status = 503
    retryable = True

    def default_message(self) -> str:
        return _("The payment provider cannot be reached right now. Please try again shortly.")


class PaymentDeclined(PaymentProviderError):
    code = "payment_declined"
    status = 402

    def default_message(self) -> str:
        return _("The payment was declined. Please use another payment method.")


class WebhookSignatureInvalid(OrderError):
    code = "webhook_signature_invalid"
    status = 400

    def default_message(self) -> str:
        return _("The notification could not be verified.")


class AutoRenewChoiceInvalid(OrderError):
    """An auto-renew or data auto-top-up choice that cannot be used for this line."""

    code = "auto_renew_invalid"

    def default_message(self) -> str:
        reason = self.details.get("reason")
        messages = {
            "payment_method": _("This saved card cannot be used for this line."),
            "addon": _("Choose a data add-on that is on sale."),
            "threshold": _("Choose a data threshold between 1 MB and 100 GB."),
            "threshold_above_addon": _(
                "The data threshold must be smaller than the data the add-on gives."
            ),
            "line": _("Auto-renew cannot be set on a closed line."),
        }
        return str(messages.get(str(reason), _("This auto-renew choice cannot be used.")))


class VoucherNotSellable(OrderError):
    """A card the counter may not sell: unknown serial, void, redeemed, expired or already
    sold; details["reason"] says which ("unknown", "void", "redeemed", "expired", "sold")."""

    code = "voucher_not_sellable"
    status = 409

    def default_message(self) -> str:
        return _("No voucher card has this serial number. Check the card and try again.")

    @classmethod
    def because(cls, reason: str, **details: object) -> VoucherNotSellable:
        messages = {
            "void": _("This voucher card is void and cannot be sold."),
            "redeemed": _("This voucher card has already been redeemed and cannot be sold."),
            "expired": _("This voucher card has expired and cannot be sold."),
            "sold": _("This voucher card has already been sold."),
        }
        return cls(messages.get(reason), reason=reason, **details)
