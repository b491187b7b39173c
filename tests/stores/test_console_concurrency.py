"""Double submits that arrive at the same moment, on PostgreSQL: one sale, one line, one
customer, one cash posting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from simcare.accounts.models import Subscriber, User
from simcare.catalog.models import Plan
from simcare.ledger import queries as ledger_queries
from simcare.ledger import services as ledger
from simcare.lines.models import Line, SimCard
from simcare.orders.models import Order
from simcare.stores import services
from simcare.stores.models import Store
from tests import concurrency

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.DATABASE_IS_POSTGRES, reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]

THREADS = 8


def at_once(work: Callable[[int], Any], count: int = THREADS) -> list[Any]:
    """Run work(0..count-1) in threads released together; each result or exception."""
    return concurrency.at_once(work, count)


def test_the_same_sale_submitted_eight_times_at_once_sells_once(
    clerk: User, shop: Store, plan: Plan, stock: Callable[..., list[SimCard]]
) -> None:
    sim, _spare = stock(shop, 2)
    customer = services.NewCustomer(
        first_name="Wei",
        last_name="Lin",
        email="wei.lin@example.com",
        phone="+14165550177",
        language="zh-hans",
        province="ON",
    )

    results = at_once(
        lambda _index: services.sell_new_line(
            store=shop,
            clerk=clerk,
            plan=plan,
            sim_kind="physical",
            form_token="one-form-token-0123456789",
            new_customer=customer,
            sim=sim,
        )
    )

    assert all(isinstance(result, Order) for result in results), results
    assert len({result.pk for result in results}) == 1
    assert Order.objects.count() == 1
    assert Line.objects.count() == 1
    assert Subscriber.objects.count() == 1
    assert ledger.store_drawer(shop).cached_balance_cents == -3955
    assert ledger_queries.find_breaks() == []
