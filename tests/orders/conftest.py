"""Fixtures for money: lines made by the real service, funded wallets, coupons."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.management import call_command

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.ledger import queries as ledger_queries
from simcare.ledger import services as ledger
from simcare.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from simcare.lines.models import Line
from simcare.orders import tax
from simcare.orders.models import (
    Coupon,
    DiscountKind,
    ItemKind,
    Order,
    OrderItem,
    OrderKind,
    OrderState,
    Payment,
    PaymentMethod,
    PaymentStatus,
    SalesChannel,
)
from simcare.orders.services import ordering
from tests.lines.conftest import make_line, store
from tests.orders.paypal_standin import PayPalStandIn
from tests.orders.stripe_standin import StripeStandIn

__all__ = ["make_line", "store"]


@pytest.fixture
def fund(db: Any) -> Callable[[Subscriber, int], LedgerAccount]:
    """Credit a subscriber's wallet as a card top-up would (clearing:stripe → wallet)."""

    def fund(subscriber: Subscriber, amount_cents: int) -> LedgerAccount:
        wallet = ledger.wallet_for(subscriber)
        ledger.transfer(
            kind="wallet_topup",
            source=ledger.system_account("clearing:stripe"),
            destination=wallet,
            amount_cents=amount_cents,
        )
        wallet.refresh_from_db()
        return wallet

    return fund


def balance(subscriber: Subscriber) -> int:
    return ledger.wallet_for(subscriber).cached_balance_cents


def money_snapshot() -> tuple[int, int, int, dict[str, int]]:
    """What a refused money action must leave exactly as it was."""
    return (
        Order.objects.count(),
        LedgerTransaction.objects.count(),
        LedgerEntry.objects.count(),
        ledger_queries.balances_by_code(),
    )


def assert_ledger_clean() -> None:
    """`simcare ledger verify` exits 0 (a break raises SystemExit(1) here)."""
    call_command("ledger", "verify", stdout=io.StringIO())


# --- orders as the ordering service records them, built with the ORM (receipts, admin) -----

_serial = itertools.count(1)
PAID_STATES = {OrderState.PAID, OrderState.FULFILLED, OrderState.REFUNDED}


@pytest.fixture
def make_order(db: Any) -> Callable[..., Order]:
    """A renewal of `plan` for `subscriber` sold in `province`, in `state` (fulfilled by default),
    with its item, its payment and the tax lines orders/tax.py computes."""

    def make(
        subscriber: Subscriber | None,
        plan: Plan,
        *,
        line: Line | None = None,
        state: OrderState = OrderState.FULFILLED,
        province: str = "ON",
        periods: int = 1,
        coupon: Coupon | None = None,
        discount_cents: int = 0,
        payment_method: PaymentMethod = PaymentMethod.WALLET,
        refunded_cents: int = 0,
        language: str | None = None,
        paid_at: dt.datetime | None = None,
        channel: SalesChannel = SalesChannel.WEB,
    ) -> Order:
        language = language or (subscriber.user.language if subscriber else "en")
        subtotal = plan.price_cents * periods
        taxes = tax.taxes_for(subtotal - discount_cents, province, tax.DEFAULT_RATES)
        total = subtotal - discount_cents + sum(tax_line.amount_cents for tax_line in taxes)
        paid = state in PAID_STATES
        paid_at = paid_at or dt.datetime(2026, 12, 1, 15, 30, tzinfo=dt.UTC)
        order = Order.objects.create(
            kind=OrderKind.RENEWAL,
            channel=channel,
            state=state,
            subscriber=subscriber,
            line=line,
            plan=plan,
            periods=periods,
            subtotal_cents=subtotal,
            discount_cents=discount_cents,
            tax_cents=sum(tax_line.amount_cents for tax_line in taxes),
            total_cents=total,
            refunded_cents=refunded_cents,
            taxes=[tax_line.as_json() for tax_line in taxes],
            province=province,
            coupon=coupon,
            payment_method=payment_method,
            idempotency_key=f"test:{next(_serial)}",
            language=language,
            paid_at=paid_at if paid else None,
            fulfilled_at=paid_at if state == OrderState.FULFILLED else None,
            closed_at=paid_at + dt.timedelta(days=2) if state == OrderState.REFUNDED else None,
        )
        OrderItem.objects.create(
            order=order,
            kind=ItemKind.PLAN,
            code=plan.code,
            description=plan.translated("name", language),
            quantity=periods,
            unit_price_cents=plan.price_cents,
            amount_cents=subtotal,
        )
        by_card = payment_method == PaymentMethod.CARD
        Payment.objects.create(
            order=order,
            method=payment_method,
            provider="stripe" if by_card else "",
            provider_reference=f"cs_test_{order.pk}" if by_card else "",
            status=PaymentStatus.SUCCEEDED if paid else PaymentStatus.PENDING,
            amount_cents=total,
            refunded_cents=refunded_cents,
            completed_at=paid_at if paid else None,
        )
        return order

    return make


# --- the payment providers' stand-ins (tests/orders/stripe_standin.py, paypal_standin.py) -------

STRIPE_WEBHOOK_SECRET = "whsec_standin_0123456789"


@pytest.fixture
def stripe_standin(settings: Any) -> Iterator[StripeStandIn]:
    standin = StripeStandIn()
    standin.start()
    settings.SIMCARE_STRIPE_SECRET_KEY = standin.secret_key
    settings.SIMCARE_STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
    settings.SIMCARE_STRIPE_API_BASE = standin.url
    settings.SIMCARE_STRIPE_MAX_NETWORK_RETRIES = 0
    settings.SIMCARE_PAYMENT_PROVIDER_TIMEOUT = 5
    yield standin
    standin.stop()


@pytest.fixture
def paypal_standin(settings: Any) -> Iterator[PayPalStandIn]:
    standin = PayPalStandIn()
    standin.start()
    settings.SIMCARE_PAYPAL_CLIENT_ID = standin.client_id
    settings.SIMCARE_PAYPAL_CLIENT_SECRET = standin.client_secret
    settings.SIMCARE_PAYPAL_WEBHOOK_ID = standin.webhook_id
    settings.SIMCARE_PAYPAL_API_BASE = standin.url
    settings.SIMCARE_PAYMENT_PROVIDER_TIMEOUT = 5
    yield standin
    standin.stop()


@pytest.fixture
def make_pending_order(db: Any) -> Callable[..., Order]:
    """A pending card or PayPal wallet top-up placed through the web, as the portal places it.

    Needs the provider configured (its stand-in fixture), as place_order does.
    """
    counter = itertools.count(1)

    def make(subscriber: Subscriber, *, payment_method: str, amount_cents: int = 2000) -> Order:
        return ordering.place_order(
            kind=OrderKind.WALLET_TOPUP,
            channel=SalesChannel.WEB,
            subscriber=subscriber,
            payment_method=payment_method,
            idempotency_key=f"user:{subscriber.user_id}:test-{next(counter)}",
            acting_user=subscriber.user,
            amount_cents=amount_cents,
        )

    return make


@pytest.fixture
def coupon(db: Any) -> Coupon:
    return Coupon.objects.create(code="WELCOME5", kind=DiscountKind.FIXED, amount_off_cents=500)


def run_ledger_verify() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("ledger", "verify", stdout=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()
