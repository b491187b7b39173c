"""Receipts issued by racing callers on PostgreSQL, each thread on its own connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.orders.models import Order, Receipt
from simcare.orders.services import receipts
from tests import concurrency

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.DATABASE_IS_POSTGRES, reason="needs PostgreSQL concurrency"),
    pytest.mark.django_db(transaction=True),
]

THREADS = 20


def at_once(work: Callable[[int], Any], count: int = THREADS) -> list[Any]:
    """Run work(0..count-1) in threads released together; each result or exception."""
    return concurrency.at_once(work, count)


def test_twenty_callers_issuing_one_orders_receipt_get_the_same_one(
    subscriber: Subscriber, plan: Plan, make_order: Callable[..., Order]
) -> None:
    order = make_order(subscriber, plan)

    results = at_once(lambda _index: receipts.issue_receipt(Order.objects.get(pk=order.pk)).pk)

    assert Receipt.objects.filter(order=order).count() == 1
    assert results == [Receipt.objects.get(order=order).pk] * THREADS


def test_receipts_of_orders_paid_together_get_distinct_numbers(
    subscriber: Subscriber, plan: Plan, make_order: Callable[..., Order]
) -> None:
    orders = [make_order(subscriber, plan) for _ in range(THREADS)]

    numbers = at_once(lambda index: receipts.issue_receipt(orders[index]).number)

    assert all(isinstance(number, str) for number in numbers), numbers
    assert len(set(numbers)) == THREADS
