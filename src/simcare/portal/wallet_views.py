"""The wallet: balance, voucher redemption (with the lockout's message), a card top-up when
cards are set up, and the recent movements read from the ledger."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from simcare.accounts.api import client_ip
from simcare.accounts.models import Subscriber
from simcare.kit.money import format_cents
from simcare.ledger import queries as ledger_queries
from simcare.ledger.models import LedgerAccount, TransactionKind
from simcare.orders import errors
from simcare.orders.models import Order, OrderKind, PaymentMethod, SalesChannel
from simcare.orders.services import ordering, vouchers
from simcare.portal import checkout
from simcare.portal.access import form_token, signed_in_user, subscriber_view

RECENT_MOVEMENTS = 20
TOPUP_AMOUNTS_CENTS = (1000, 2000, 3000, 5000, 10000)


def _movements(subscriber: Subscriber) -> list[dict[str, Any]]:
    wallet = LedgerAccount.objects.filter(subscriber=subscriber).first()
    if wallet is None:
        return []
    labels = dict(TransactionKind.choices)
    return [
        {
            "when": entry.created_at,
            "label": labels.get(entry.transaction.kind, entry.transaction.kind),
            "memo": entry.transaction.memo,
            "amount_cents": entry.amount_cents,
        }
        for entry in ledger_queries.entries_for(wallet)[:RECENT_MOVEMENTS]
    ]


def _topup_methods() -> list[str]:
    methods = ordering.available_payment_methods(channel=SalesChannel.WEB)
    return [m for m in methods if m in {PaymentMethod.CARD, PaymentMethod.PAYPAL}]


def _page(
    request: HttpRequest,
    subscriber: Subscriber,
    *,
    error: str | None = None,
    topup_error: str | None = None,
) -> HttpResponse:
    return render(
        request,
        "portal/wallet.html",
        {
            "balance_cents": ledger_queries.wallet_balance_cents(subscriber),
            "movements": _movements(subscriber),
            "error": error,
            "topup_error": topup_error,
            "topup_methods": [(m, checkout.choice_label(m)) for m in _topup_methods()],
            "topup_amounts": TOPUP_AMOUNTS_CENTS,
            "token": form_token(request),
            "nav": "wallet",
        },
    )


@subscriber_view
@require_http_methods(["GET", "POST"])
def wallet(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    """GET: the wallet; POST: redeem a voucher PIN into it."""
    if request.method == "GET":
        return _page(request, subscriber)
    pin = request.POST.get("pin", "")
    if not pin.strip():
        return _page(request, subscriber, error=_("Enter the PIN printed on your voucher."))
    try:
        voucher = vouchers.redeem_voucher(
            subscriber, pin, ip_address=client_ip(request), acting_user=signed_in_user(request)
        )
    except errors.VoucherLocked as refusal:
        return _page(request, subscriber, error=refusal.message)
    except errors.VoucherInvalid as refusal:
        return _page(request, subscriber, error=refusal.message)
    messages.success(
        request,
        _("Your voucher added %(amount)s to your wallet.")
        % {"amount": format_cents(voucher.value_cents)},
    )
    return redirect("portal:wallet")


@require_POST
@subscriber_view
def wallet_topup(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    """Top the wallet up by card or PayPal: a pending order, then the provider's page."""
    try:
        amount = int(request.POST.get("amount", ""))
    except ValueError:
        amount = 0
    if amount not in TOPUP_AMOUNTS_CENTS:
        return _page(request, subscriber, topup_error=_("Choose an amount."))
    user = signed_in_user(request)

    def place(method: str, key: str) -> Order:
        return ordering.place_order(
            kind=OrderKind.WALLET_TOPUP,
            channel=SalesChannel.WEB,
            subscriber=subscriber,
            payment_method=method,
            idempotency_key=key,
            acting_user=user,
            amount_cents=amount,
        )

    method = request.POST.get("method", "")
    if method not in _topup_methods():
        return _page(
            request,
            subscriber,
            topup_error=errors.PaymentMethodUnavailable().message,
        )
    outcome = checkout.pay(
        request, subscriber, choice=method, token=form_token(request), pin="", place=place
    )
    if isinstance(outcome, str):
        return _page(request, subscriber, topup_error=outcome)
    if outcome.redirect_url:
        return checkout.to_provider(request, outcome.redirect_url)
    return redirect("portal:order_done", order_id=outcome.order.pk)
