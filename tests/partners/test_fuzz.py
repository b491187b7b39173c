"""Schemathesis against the live OpenAPI document with a valid reseller key: every reseller
operation, positive and negative generation, no server error, every answer as documented."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from django.core.cache import cache

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.lines.models import Line
from simcare.partners import services
from simcare.partners.models import Reseller, WholesalePrice
from tests.api.test_fuzz import _fuzz, wsgi_app
from tests.partners.conftest import fund

pytestmark = pytest.mark.django_db

RESELLER_OPERATIONS = {
    "GET /api/v1/plans",
    "POST /api/v1/orders",
    "GET /api/v1/orders",
    "GET /api/v1/orders/{order_id}",
    "GET /api/v1/orders/{order_id}/esim-qr.png",
    "GET /api/v1/lines/{msisdn}/renewable",
    "GET /api/v1/float",
    "GET /api/v1/statements/{month}.csv",
    "GET /api/v1/webhooks/deliveries",
}


def test_every_reseller_operation_survives_generated_requests_and_conforms(
    make_reseller: Callable[..., Reseller],
    plan: Plan,
    subscriber: Subscriber,
    make_line: Callable[..., Line],
    esim_stock: Callable[[int], None],
) -> None:
    # given: a reseller with a key, money, a priced plan, a line to renew and eSIM stock
    cache.clear()
    reseller = make_reseller("fuzz", rate_limit_per_second=100_000)
    key = services.issue_api_key(reseller, acting_user=None)[1]
    WholesalePrice.objects.create(reseller=reseller, plan=plan, price_cents=3000)
    fund(reseller, 10_000_000)
    line = make_line(subscriber, plan)
    esim_stock(3)
    order, _created = services.place_reseller_order(
        reseller,
        external_order_no="FUZZ-0",
        kind="renewal",
        plan_code=plan.code,
        msisdn=line.msisdn,
    )
    tried: list[str] = []

    with wsgi_app() as app:
        schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.label in RESELLER_OPERATIONS:
                tried.append(_fuzz(operation, key))
        # and with values that exist: this reseller's order, a live line, a real month
        _fuzz(schema["/api/v1/orders/{order_id}"]["GET"], key, {"order_id": str(order.pk)})
        _fuzz(schema["/api/v1/lines/{msisdn}/renewable"]["GET"], key, {"msisdn": line.msisdn})
        _fuzz(
            schema["/api/v1/orders"]["POST"],
            key,
            body={
                "external_order_no": "FUZZ-1",
                "kind": "renewal",
                "msisdn": line.msisdn,
                "plan_code": plan.code,
            },
        )

    assert set(tried) == RESELLER_OPERATIONS
