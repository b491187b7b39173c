"""The saved-card vendor boundary for the auto-renew tests.

When services/cards.py is on the branch, the card step goes through it against the
Stripe stand-in (tests/orders/stripe_standin.py, a local HTTP server). Before it
lands, a small in-memory vendor takes the place of the cards module: it keeps the
charges it made, one per order as Stripe's idempotency key (the order) gives, and
settles them through ordering.settle_order as the real adapter does.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from simcare.accounts.models import Subscriber
from simcare.kit.problems import DomainError
from simcare.orders.models import Order, Payment, PaymentStatus, SavedPaymentMethod

WORKING_CARD = "pm_card_visa"
DECLINED_CARD = "pm_card_chargeDeclined"
_references = itertools.count(1)


def real_cards_available() -> bool:
    return importlib.util.find_spec("simcare.orders.services.cards") is not None


class ProcessKilled(BaseException):
    """Stands for the worker dying (kill -9) at the vendor boundary: nothing catches it."""


class ProviderUnreachable(DomainError):
    """What the adapter raises when Stripe did not answer: the charge may or may not exist."""

    code = "payment_provider_unavailable"
    status = 503
    retryable = True


class FakeCardsModule(ModuleType):
    """simcare.orders.services.cards as seen by the auto-renew code, charging in memory."""

    def __init__(self) -> None:
        super().__init__("simcare.orders.services.cards")
        self.charges: dict[int, str] = {}  # order id → the vendor's charge id
        self.die_after_next_charge = False
        self.unreachable = False

    def is_configured(self) -> bool:
        return True

    def charge_saved_method(self, order: Order, method: SavedPaymentMethod) -> Payment:
        from simcare.orders.services import ordering

        if method.method_reference == DECLINED_CARD:
            payment, _created = Payment.objects.get_or_create(
                provider="stripe",
                provider_reference=f"pi_declined_{order.pk}",
                defaults={
                    "order": order,
                    "method": "card",
                    "amount_cents": order.total_cents,
                    "status": PaymentStatus.FAILED,
                    "failure_code": "card_declined",
                },
            )
            return payment
        # Like Stripe's idempotency key: the same order charged again is the same charge.
        reference = self.charges.setdefault(order.pk, f"pi_fake_{order.pk}")
        if self.unreachable:
            raise ProviderUnreachable  # charged, but the answer was lost
        if self.die_after_next_charge:
            self.die_after_next_charge = False
            raise ProcessKilled
        ordering.settle_order(
            order, provider="stripe", provider_reference=reference, amount_cents=order.total_cents
        )
        return Payment.objects.get(provider="stripe", provider_reference=reference)

    def refund_payment(self, payment: Payment, amount_cents: int, *, idempotency_key: str) -> str:
        return f"re_fake_{payment.pk}_{idempotency_key[-12:]}"


class CardVendor:
    """What a test needs of the card side: saved cards, and the charges made."""

    def __init__(self, *, fake: FakeCardsModule | None, standin: Any = None) -> None:
        self.fake = fake
        self.standin = standin

    @property
    def is_fake(self) -> bool:
        return self.fake is not None

    def saved_card(self, subscriber: Subscriber, *, works: bool = True) -> SavedPaymentMethod:
        number = next(_references)
        return SavedPaymentMethod.objects.create(
            subscriber=subscriber,
            provider="stripe",
            customer_reference=f"cus_test_{subscriber.pk}",
            method_reference=WORKING_CARD if works else DECLINED_CARD,
            brand="visa",
            last4="4242" if works else "0002",
            exp_month=12,
            exp_year=2030 + number % 5,
        )

    def charge_count(self) -> int:
        """Charges that took money (succeeded at the vendor)."""
        if self.fake is not None:
            return len(self.fake.charges)
        return Payment.objects.filter(
            provider="stripe", status__in=[PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED]
        ).count()


@pytest.fixture
def card_vendor(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[CardVendor]:
    settings.SIMCARE_STRIPE_SECRET_KEY = "sk_test_autorenew"
    settings.SIMCARE_STRIPE_WEBHOOK_SECRET = "whsec_test_autorenew"
    if not real_cards_available():
        fake = FakeCardsModule()
        monkeypatch.setitem(sys.modules, "simcare.orders.services.cards", fake)
        import simcare.orders.services as package

        monkeypatch.setattr(package, "cards", fake, raising=False)
        yield CardVendor(fake=fake)
        return
    standin_module = importlib.import_module("tests.orders.stripe_standin")
    standin = standin_module.StripeStandIn()
    standin.start()
    settings.SIMCARE_STRIPE_SECRET_KEY = standin.secret_key
    settings.SIMCARE_STRIPE_API_BASE = standin.url
    settings.SIMCARE_STRIPE_MAX_NETWORK_RETRIES = 0
    settings.SIMCARE_PAYMENT_PROVIDER_TIMEOUT = 5
    try:
        yield CardVendor(fake=None, standin=standin)
    finally:
        standin.stop()
