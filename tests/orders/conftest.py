"""Fixtures for money: lines made by the real service, funded wallets, coupons."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.management import call_command

from simcare.accounts.models import Subscriber
from simcare.ledger import services as ledger
from simcare.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from simcare.orders.models import Order, OrderKind, SalesChannel
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
        dict(LedgerAccount.objects.values_list("code", "cached_balance_cents")),
    )


def assert_ledger_clean() -> None:
    """`simcare ledger verify` exits 0 (a break raises SystemExit(1) here)."""
    call_command("ledger", "verify", stdout=io.StringIO())


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


def run_ledger_verify() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("ledger", "verify", stdout=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()
