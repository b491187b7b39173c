"""One external_order_no sent 20 times at once over HTTP, on PostgreSQL: one order, one debit."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings
from django.core.cache import cache

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.ledger.models import LedgerEntry, LedgerTransaction
from simcare.lines.models import Line
from simcare.orders.models import Order
from simcare.partners import services
from simcare.partners.models import Reseller, ResellerOrder
from tests.api.conftest import ApiClient
from tests.api.test_renew_concurrency import at_once
from tests.partners.conftest import fund

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.DATABASE_IS_POSTGRES, reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]

REQUESTS = 20
TOTAL = 3955  # the plan fixture's $35.00 (no wholesale price set) plus 13% HST


def test_twenty_requests_with_one_number_place_one_order_and_debit_once(
    make_reseller: Callable[..., Reseller],
    plan: Plan,
    subscriber: Subscriber,
    make_line: Callable[..., Line],
) -> None:
    cache.clear()
    reseller = make_reseller("rush", rate_limit_per_second=1000)
    key = services.issue_api_key(reseller, acting_user=None)[1]
    line = make_line(subscriber, plan)
    fund(reseller, 100_000)
    body = {
        "external_order_no": "RUSH-1",
        "kind": "renewal",
        "msisdn": line.msisdn,
        "plan_code": plan.code,
    }

    responses = at_once(lambda _index: ApiClient(key).post("/api/v1/orders", body), REQUESTS)

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * (REQUESTS - 1) + [201]
    assert len({response.json()["id"] for response in responses}) == 1
    assert Order.objects.count() == 1
    assert ResellerOrder.objects.count() == 1
    assert LedgerTransaction.objects.filter(kind="order_payment").count() == 1
    assert services.float_balance_cents(reseller) == 100_000 - TOTAL


def test_orders_racing_for_a_float_that_covers_one_place_exactly_one(
    make_reseller: Callable[..., Reseller],
    plan: Plan,
    subscriber: Subscriber,
    make_line: Callable[..., Line],
) -> None:
    cache.clear()
    reseller = make_reseller("thin", rate_limit_per_second=1000)
    key = services.issue_api_key(reseller, acting_user=None)[1]
    line = make_line(subscriber, plan)
    fund(reseller, TOTAL + 100)
    entries = LedgerEntry.objects.count()

    def order(index: int) -> object:
        return ApiClient(key).post(
            "/api/v1/orders",
            {
                "external_order_no": f"THIN-{index}",
                "kind": "renewal",
                "msisdn": line.msisdn,
                "plan_code": plan.code,
            },
        )

    responses = at_once(order, 8)

    codes = sorted(
        response.json().get("code", "created") if response.status_code != 201 else "created"
        for response in responses
    )
    assert codes == ["created"] + ["insufficient_float"] * 7
    assert Order.objects.count() == 1
    assert ResellerOrder.objects.count() == 1
    assert LedgerEntry.objects.count() == entries + len(
        LedgerEntry.objects.filter(transaction__kind="order_payment")
    )
    assert services.float_balance_cents(reseller) == 100
