"""Paying for a portal order: wallet, a voucher PIN (redeemed into the wallet, then the wallet
pays, in one action), or a card / PayPal (the provider's page, then its return page).

Every form carries a fresh idempotency token; the order's key is
"user:<pk>:<token>", so a double submit returns the first order and charges
nothing again. A refusal (wrong PIN, expired coupon, short wallet) is a
translated message and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from simcare.accounts.api import client_ip
from simcare.accounts.models import Subscriber
from simcare.kit.money import format_cents
from simcare.kit.navigation import to_provider
from simcare.kit.problems import DomainError
from simcare.orders import errors
from simcare.orders.models import Order, OrderState, PaymentMethod, SalesChannel
from simcare.orders.services import cards, ordering, paypal, vouchers
from simcare.portal.access import idempotency_key, signed_in_user

__all__ = ["to_provider"]

VOUCHER = "voucher"  # a form choice, not an order's method: the wallet pays after the redemption


def payment_choices() -> list[str]:
    """What the web channel offers now: the wallet, a voucher PIN, and card / PayPal if set up."""
    methods = ordering.available_payment_methods(channel=SalesChannel.WEB)
    choices = []
    if PaymentMethod.WALLET in methods:
        choices += [str(PaymentMethod.WALLET), VOUCHER]
    choices += [m for m in methods if m != PaymentMethod.WALLET]
    return choices


def choice_label(choice: str) -> str:
    labels = {
        str(PaymentMethod.WALLET): _("My wallet"),
        VOUCHER: _("A voucher PIN"),
        str(PaymentMethod.CARD): _("Credit or debit card"),
        str(PaymentMethod.PAYPAL): _("PayPal"),
    }
    return labels.get(choice, choice)


@dataclass(frozen=True)
class Paid:
    """The order went through (or is waiting at the provider: redirect)."""

    order: Order
    redirect_url: str | None = None


def _provider_redirect(request: HttpRequest, order: Order) -> str:
    def absolute(name: str) -> str:
        return request.build_absolute_uri(reverse(name, kwargs={"order_id": order.pk}))

    cancel_url = absolute("orders:payment_cancelled")
    if order.payment_method == PaymentMethod.CARD:
        payment = cards.start_checkout(
            order, success_url=absolute("orders:payment_return"), cancel_url=cancel_url
        )
    else:
        payment = paypal.start_checkout(
            order, return_url=absolute("orders:paypal_return"), cancel_url=cancel_url
        )
    if not payment.redirect_url:
        raise errors.PaymentProviderError()
    return payment.redirect_url


def _settled(request: HttpRequest, order: Order) -> Paid:
    if order.state == OrderState.PENDING and order.payment_method in {
        PaymentMethod.CARD,
        PaymentMethod.PAYPAL,
    }:
        return Paid(order, _provider_redirect(request, order))
    return Paid(order)


def pay(
    request: HttpRequest,
    subscriber: Subscriber,
    *,
    choice: str,
    token: str,
    pin: str,
    place: Callable[[str, str], Order],
) -> Paid | str:
    """Place and pay an order with place(payment_method, idempotency_key); a message if refused."""
    key = idempotency_key(request, token)
    earlier = Order.objects.filter(idempotency_key=key, subscriber=subscriber).first()
    try:
        if earlier is not None:  # a double submit: the first order, nothing charged again
            return _settled(request, earlier)
        if choice not in payment_choices():
            return errors.PaymentMethodUnavailable().message
        method = choice
        credited = 0
        if choice == VOUCHER:
            if not pin.strip():
                return _("Enter the PIN printed on your voucher.")
            user = signed_in_user(request)
            voucher = vouchers.redeem_voucher(
                subscriber, pin, ip_address=client_ip(request), acting_user=user
            )
            credited = voucher.value_cents
            method = str(PaymentMethod.WALLET)
        try:
            order = place(method, key)
        except errors.WalletShort as error:
            if credited:
                return _(
                    "Your voucher added %(amount)s to your wallet, but the wallet is still short "
                    "for this order. %(reason)s"
                ) % {"amount": format_cents(credited), "reason": error.message}
            raise
        return _settled(request, order)
    except DomainError as error:
        return error.message
