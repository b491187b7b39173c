"""The same renewal sent many times at once over HTTP, on PostgreSQL: one order, one charge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.ledger import queries as ledger_queries
from simcare.ledger.models import LedgerTransaction
from simcare.lines.models import Line
from simcare.orders.models import Order
from tests import concurrency
from tests.api.conftest import ApiClient

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.DATABASE_IS_POSTGRES, reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]

THREADS = 8
TOTAL = 3955  # the plan fixture's $35.00 plus 13% HST


def at_once(work: Callable[[int], Any], count: int = THREADS) -> list[Any]:
    """Run work(0..count-1) in threads released together; each result or exception."""
    return concurrency.at_once(work, count)


def test_the_same_key_at_once_places_one_order_and_charges_once(
    api: ApiClient,
    subscriber: Subscriber,
    plan: Plan,
    make_line: Callable[..., Line],
    fund_wallet: Callable[[Subscriber, int], None],
) -> None:
    # given
    line = make_line(subscriber, plan)
    fund_wallet(subscriber, 3 * TOTAL)
    transactions = LedgerTransaction.objects.count()
    body = {"plan_code": plan.code, "payment": "wallet"}

    # when
    def renew(index: int) -> tuple[int, int]:
        response = ApiClient(api.headers["Authorization"].removeprefix("Bearer ")).post(
            f"/api/v1/me/lines/{line.msisdn}/renew", body, **{"Idempotency-Key": "once"}
        )
        return response.status_code, response.json()["id"]

    results = at_once(renew)

    # then
    assert sorted(status for status, _id in results) == [200] * (THREADS - 1) + [201]
    assert len({order_id for _status, order_id in results}) == 1
    assert Order.objects.count() == 1
    assert LedgerTransaction.objects.count() == transactions + 1
    assert ledger_queries.wallet_balance_cents(subscriber) == 2 * TOTAL
