"""A provider delivering the same confirmation many times at once settles once (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from simcare.accounts.models import Subscriber
from simcare.ledger.models import LedgerTransaction
from simcare.orders.models import Order, OrderState, Payment, PaymentMethod, PaymentStatus
from simcare.orders.services import cards, paypal
from tests import concurrency
from tests.orders.conftest import STRIPE_WEBHOOK_SECRET, run_ledger_verify
from tests.orders.paypal_standin import PayPalStandIn
from tests.orders.stripe_standin import StripeStandIn, event_payload, sign

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.DATABASE_IS_POSTGRES, reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]

THREADS = 8


def at_once(work: Callable[[int], Any], count: int = THREADS) -> list[Any]:
    """Run work(0..count-1) in threads released together; each result or exception."""
    return concurrency.at_once(work, count)


def test_the_same_stripe_event_delivered_at_once_settles_once(
    stripe_standin: StripeStandIn,
    subscriber: Subscriber,
    make_pending_order: Callable[..., Order],
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD, amount_cents=2000)
    payment = cards.start_checkout(order, success_url="https://x/s", cancel_url="https://x/c")
    payload = event_payload(
        "checkout.session.completed", stripe_standin.pay_session(payment.provider_reference)
    )
    header = sign(payload, STRIPE_WEBHOOK_SECRET)

    outcomes = at_once(lambda _index: cards.handle_webhook(payload, header))

    assert set(outcomes) <= {"settled", "duplicate"}, outcomes
    order.refresh_from_db()
    assert order.state == OrderState.FULFILLED
    assert Payment.objects.filter(order=order, status=PaymentStatus.SUCCEEDED).count() == 1
    assert LedgerTransaction.objects.count() == 1
    assert run_ledger_verify()[0] == 0


def test_paypal_capture_and_its_webhooks_racing_settle_once(
    paypal_standin: PayPalStandIn,
    subscriber: Subscriber,
    make_pending_order: Callable[..., Order],
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.PAYPAL, amount_cents=2000)
    payment = paypal.start_checkout(order, return_url="https://x/r", cancel_url="https://x/c")
    paypal_standin.approve(payment.provider_reference)
    paypal._client().orders.capture_order({"id": payment.provider_reference})
    headers, body = paypal_standin.webhook(
        paypal_standin.completed_capture_event(payment.provider_reference)
    )

    def deliver(index: int) -> object:
        if index == 0:
            return paypal.capture(Order.objects.get(pk=order.pk)).state
        return paypal.handle_webhook(headers, body)

    outcomes = at_once(deliver)

    assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)], outcomes
    order.refresh_from_db()
    assert order.state == OrderState.FULFILLED
    assert Payment.objects.filter(order=order, status=PaymentStatus.SUCCEEDED).count() == 1
    assert LedgerTransaction.objects.count() == 1
    assert run_ledger_verify()[0] == 0
