"""How many SQL statements one reseller order over HTTP costs (a count, not a timing).

The reseller API's throughput target (80-operations.md) rests on an order being a
short, bounded conversation with the database; this bound catches an N+1 or a
re-read slipping back in. Each statement Django sends counts, savepoints included;
SIMCARE_SHOW_QUERIES=1 (with pytest -s) prints them. Orders are placed in batches, and
a batch's statements do not grow with its orders. The API key's lookup is cached, so the
last test checks a revocation still counts from the next request.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from simcare.accounts.models import Subscriber
from simcare.catalog.models import AddOn, Plan
from simcare.lines.models import Line
from simcare.partners import batching, services
from simcare.partners.models import Reseller, ResellerApiKey, WholesalePrice
from tests.api.conftest import ApiClient
from tests.partners.conftest import fund

pytestmark = pytest.mark.django_db

# One renewal on the float, with the reseller's webhook queued, measured warm (the API
# key's lookup cached, as it is for every request after a key's first). It is placed as a
# batch of one (partners/batching.py): a batch of any size is this many statements.
MAX_ORDER_STATEMENTS = 30


@pytest.fixture(autouse=True)
def _memory_cache(settings: Any) -> None:
    """The rate windows and the key cache in memory, as they are in Redis in production:
    the count is of the database's statements."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()


def _renewal(line: Line, plan: Plan, number: str) -> dict[str, object]:
    return {
        "external_order_no": number,
        "kind": "renewal",
        "msisdn": line.msisdn,
        "plan_code": plan.code,
    }


def test_one_reseller_order_is_a_bounded_number_of_statements(
    reseller: Reseller, reseller_api: ApiClient, plan: Plan, line: Line
) -> None:
    # given: a priced plan, a funded float, a webhook URL, and one order already placed
    WholesalePrice.objects.create(reseller=reseller, plan=plan, price_cents=3000)
    Reseller.objects.filter(pk=reseller.pk).update(webhook_url="https://shop.example.com/hook")
    fund(reseller, 100_000)
    assert reseller_api.post("/api/v1/orders", _renewal(line, plan, "WARM-1")).status_code == 201

    # when
    with CaptureQueriesContext(connection) as captured:
        response = reseller_api.post("/api/v1/orders", _renewal(line, plan, "SHOP-2"))

    # then
    assert response.status_code == 201, response.content
    if os.environ.get("SIMCARE_SHOW_QUERIES"):
        for query in captured.captured_queries:
            print(query["sql"][:300])
    assert len(captured.captured_queries) <= MAX_ORDER_STATEMENTS, len(captured.captured_queries)


def test_a_batch_is_as_many_statements_for_forty_orders_as_for_one(
    make_reseller: Callable[..., Reseller],
    plan: Plan,
    make_subscriber: Callable[..., Subscriber],
    make_line: Callable[..., Line],
) -> None:
    # given: two resellers with webhooks, ten lines, renewals and add-ons
    addon = AddOn.objects.create(
        code="data5", name_en="5 GB", kind="data", quantity=5120, price_cents=1500, validity_days=30
    )
    resellers = [
        make_reseller(slug, webhook_url="https://shop.example.com/hook") for slug in ("ash", "elm")
    ]
    for reseller in resellers:
        fund(reseller, 1_000_000)
    lines = [make_line(make_subscriber(), plan) for _ in range(10)]

    def requests(label: str, count: int) -> list[batching.OrderRequest]:
        return [
            batching.OrderRequest(
                reseller=resellers[index % 2],
                external_order_no=f"{label}-{index}",
                kind="addon" if index % 3 == 2 else "renewal",
                plan_code=addon.code if index % 3 == 2 else plan.code,
                msisdn=lines[index % 10].msisdn,
            )
            for index in range(count)
        ]

    batching.place_reseller_orders(requests("warm", 3))  # the system accounts opened

    # when
    with CaptureQueriesContext(connection) as one:
        results = batching.place_reseller_orders(requests("one", 3))
    with CaptureQueriesContext(connection) as forty:
        results += batching.place_reseller_orders(requests("forty", 40))

    # then
    assert all(result.created for result in results)
    counts = (len(one.captured_queries), len(forty.captured_queries))
    if connection.vendor == "postgresql":
        assert counts[1] == counts[0], counts
    else:
        # SQLite takes at most 999 parameters a statement: Django splits the widest inserts
        # (notifications, buckets) into chunks of that many, one more statement each.
        assert counts[1] <= counts[0] + 4, counts
    assert counts[0] <= MAX_ORDER_STATEMENTS


def test_a_cached_key_stops_working_at_once_when_revoked(
    reseller: Reseller, reseller_api: ApiClient
) -> None:
    # given: the key's lookup cached by a first request
    assert reseller_api.get("/api/v1/float").status_code == 200
    with CaptureQueriesContext(connection) as captured:
        assert reseller_api.get("/api/v1/float").status_code == 200
    assert not any("partners_resellerapikey" in query["sql"] for query in captured)

    # when
    services.revoke_api_key(ResellerApiKey.objects.get(reseller=reseller), acting_user=None)

    # then
    assert reseller_api.get("/api/v1/float").status_code == 401
