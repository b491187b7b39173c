"""Orders racing each other on PostgreSQL: 50 threads at once, each on its own connection."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.ledger.models import LedgerAccount, LedgerTransaction
from simcare.lines.models import Line
from simcare.orders import errors
from simcare.orders.models import AutoRenewAttempt, Coupon, CouponUse, Order, OrderState
from simcare.orders.services import autorenew, ordering
from tests.ledger.test_concurrency import at_once
from tests.orders.conftest import assert_ledger_clean, balance

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.DATABASE_IS_POSTGRES, reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]

THREADS = 50
RENEWAL_CENTS = 3955  # $35 + 13 % HST
PERIOD = dt.timedelta(days=30)

Fund = Callable[[Subscriber, int], LedgerAccount]


@pytest.fixture
def line(subscriber: Subscriber, plan: Plan, make_line: Callable[..., Line]) -> Line:
    return make_line(subscriber, plan)


def renew(line_id: int, key: str, **options: Any) -> Order:
    return ordering.renew(
        Line.objects.get(pk=line_id),
        channel="web",
        payment_method="wallet",
        idempotency_key=key,
        acting_user=None,
        **options,
    )


def kinds(results: list[Any]) -> Counter[str]:
    return Counter(type(result).__name__ for result in results)


def test_fifty_identical_renewals_at_once_give_one_order_one_charge_one_period(
    subscriber: Subscriber, line: Line, fund: Fund
) -> None:
    fund(subscriber, 100_000)
    period_end = line.period_end

    results = at_once(lambda _index: renew(line.pk, "user:1:same"))

    assert kinds(results) == {"Order": THREADS}, results
    assert len({order.pk for order in results}) == 1
    assert Order.objects.count() == 1
    assert LedgerTransaction.objects.filter(kind="order_payment").count() == 1
    assert balance(subscriber) == 100_000 - RENEWAL_CENTS
    line.refresh_from_db()
    assert line.period_end == period_end + PERIOD
    assert_ledger_clean()


def test_fifty_renewals_on_a_wallet_for_ten_renew_exactly_ten_periods(
    subscriber: Subscriber, line: Line, fund: Fund
) -> None:
    fund(subscriber, 10 * RENEWAL_CENTS)
    period_end = line.period_end

    results = at_once(lambda index: renew(line.pk, f"user:1:{index}"))

    assert kinds(results) == {"Order": 10, "WalletShort": 40}, results
    assert Order.objects.filter(state=OrderState.FULFILLED).count() == 10
    assert Order.objects.count() == 10
    assert balance(subscriber) == 0
    line.refresh_from_db()
    assert line.period_end == period_end + 10 * PERIOD
    assert_ledger_clean()


def test_fifty_uses_of_a_coupon_limited_to_five_give_five(
    subscriber: Subscriber, line: Line, fund: Fund
) -> None:
    fund(subscriber, 200_000)
    coupon = Coupon.objects.create(
        code="FIVEOFF", kind="fixed", amount_off_cents=500, max_uses_total=5
    )

    results = at_once(lambda index: renew(line.pk, f"user:1:c{index}", coupon_code="FIVEOFF"))

    assert kinds(results) == {"Order": 5, "CouponRefused": 45}, results
    assert all(
        result.details["reason"] == "exhausted"
        for result in results
        if isinstance(result, errors.CouponRefused)
    )
    coupon.refresh_from_db()
    assert coupon.times_used == 5
    assert CouponUse.objects.filter(coupon=coupon).count() == 5
    assert Order.objects.filter(coupon=coupon, state=OrderState.FULFILLED).count() == 5
    assert_ledger_clean()


def test_the_auto_renew_job_on_ten_workers_at_once_renews_once(
    subscriber: Subscriber, line: Line, fund: Fund
) -> None:
    autorenew.set_auto_renew(line, enabled=True, acting_user=None)
    fund(subscriber, 100_000)
    period_end = line.period_end
    moment = period_end - dt.timedelta(hours=24)

    def run(_index: int) -> dict[str, int]:
        return autorenew.run_auto_renew(now=moment)

    results = at_once(run, count=10)

    assert all(isinstance(result, dict) for result in results), results
    assert sum(result["renewed"] for result in results) == 1
    assert Order.objects.count() == 1
    assert AutoRenewAttempt.objects.filter(status="succeeded").count() == 1
    assert balance(subscriber) == 100_000 - RENEWAL_CENTS
    line.refresh_from_db()
    assert line.period_end == period_end + PERIOD
    assert_ledger_clean()
