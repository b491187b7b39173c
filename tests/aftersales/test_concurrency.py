"""Agents and customers racing each other on PostgreSQL: each step happens once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings

from simcare.accounts.models import Subscriber, User
from simcare.aftersales import errors, services
from simcare.aftersales.models import ReturnEvent, ReturnRequest, ReturnState
from simcare.ledger.models import LedgerTransaction
from simcare.orders.models import Order
from tests.aftersales.conftest import assert_ledger_clean, balance
from tests.ledger.test_concurrency import at_once

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.DATABASE_IS_POSTGRES, reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]

THREADS = 8


def test_eight_requests_at_once_for_one_order_make_one(
    subscriber: Subscriber, buy_sim: Callable[..., Order]
) -> None:
    order = buy_sim(subscriber)

    def file(index: int) -> ReturnRequest:
        return services.submit_return(
            subscriber,
            Order.objects.get(pk=order.pk),
            kind="quality",
            fault="damaged",
            idempotency_key=f"race:{index}",
            acting_user=None,
        )

    results = at_once(file, THREADS)

    made = [result for result in results if isinstance(result, ReturnRequest)]
    refused = [result for result in results if isinstance(result, errors.ReturnAlreadyOpen)]
    assert (len(made), len(refused)) == (1, THREADS - 1)
    assert ReturnRequest.objects.count() == 1


def test_eight_refund_clicks_at_once_refund_once(
    subscriber: Subscriber, buy_sim: Callable[..., Order], agent: User
) -> None:
    order = buy_sim(subscriber, kind="esim")
    rma = services.submit_return(
        subscriber, order, kind="no_reason", idempotency_key="one", acting_user=None
    )
    services.approve_return(rma, acting_user=agent)

    def refund(index: int) -> ReturnRequest:
        return services.refund_return(ReturnRequest.objects.get(pk=rma.pk), acting_user=agent)

    results = at_once(refund, THREADS)

    assert sum(isinstance(result, ReturnRequest) for result in results) == 1
    assert sum(isinstance(result, errors.ReturnStateError) for result in results) == THREADS - 1
    assert LedgerTransaction.objects.filter(kind="refund").count() == 1
    assert ReturnEvent.objects.filter(request=rma, to_state=ReturnState.REFUNDED).count() == 1
    assert balance(subscriber) == 5000
    assert_ledger_clean()
