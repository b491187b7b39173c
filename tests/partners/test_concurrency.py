"""Reseller orders racing over HTTP on PostgreSQL: one external_order_no sent 20 times at once
(one order, one debit), a float that covers one of eight, and many orders from several
resellers at once (all complete, every ledger invariant holds); each with the orders placed
in their request threads and through the batcher thread."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.ledger import queries as ledger_queries
from simcare.ledger import services as ledger
from simcare.ledger.models import LedgerEntry, LedgerTransaction
from simcare.lines.models import Line
from simcare.orders.models import Order
from simcare.partners import batching, services
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


@pytest.fixture(autouse=True, params=["inline", "thread"])
def batch_mode(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    """Each race twice: every order in its request's thread (a batch of one each, the
    rows racing in PostgreSQL), and through the process's batcher thread (the requests
    meeting in batches, as under `simcare serve`)."""
    settings.SIMCARE_RESELLER_BATCH = request.param
    batching.shutdown()
    yield request.param
    batching.shutdown()


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


def test_many_orders_from_several_resellers_at_once_all_complete_and_the_books_hold(
    make_reseller: Callable[..., Reseller],
    plan: Plan,
    make_subscriber: Callable[..., Subscriber],
    make_line: Callable[..., Line],
) -> None:
    # given: three resellers with funded floats, six lines (two orders race on each line)
    cache.clear()
    resellers = [make_reseller(slug, rate_limit_per_second=1000) for slug in ("ash", "elm", "oak")]
    keys = [services.issue_api_key(reseller, acting_user=None)[1] for reseller in resellers]
    for reseller in resellers:
        fund(reseller, 100_000)
    lines = [make_line(make_subscriber(), plan) for _ in range(6)]
    period_ends = {line.pk: line.period_end for line in lines}
    orders = 24

    # when: 24 renewals at once, each reseller's spread over the lines
    def order(index: int) -> object:
        return ApiClient(keys[index % 3]).post(
            "/api/v1/orders",
            {
                "external_order_no": f"MANY-{index}",
                "kind": "renewal",
                "msisdn": lines[index % 6].msisdn,
                "plan_code": plan.code,
            },
        )

    responses = at_once(order, orders)

    # then: every order fulfilled and paid once, each float debited for its own orders
    assert [getattr(response, "status_code", response) for response in responses] == [201] * orders
    assert Order.objects.filter(state="fulfilled").count() == orders
    assert LedgerTransaction.objects.filter(kind="order_payment").count() == orders
    for reseller in resellers:
        assert services.float_balance_cents(reseller) == 100_000 - 8 * TOTAL
    revenue = ledger_queries.balance_cents(ledger.system_account("revenue:plans"))
    tax = ledger_queries.balance_cents(ledger.system_account("liability:sales_tax"))
    assert (revenue, tax) == (orders * 3500, orders * (TOTAL - 3500))
    # each line renewed once per order on it (four), none lost to a race
    for line in Line.objects.filter(pk__in=period_ends):
        assert line.period_end == period_ends[line.pk] + dt.timedelta(days=4 * plan.validity_days)
    assert ledger_queries.find_breaks() == []
