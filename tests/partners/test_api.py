"""The reseller API through HTTP: plans at wholesale, orders on the float, idempotency,
isolation between resellers, line checks, the float, statements, keys and rate limits."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable

import pytest
import time_machine
from django.core.cache import cache

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.ledger.models import LedgerEntry
from simcare.lines.models import Line, LineState
from simcare.orders.models import Order
from simcare.partners import services
from simcare.partners.models import Reseller, ResellerApiKey, WholesalePrice
from tests.api.conftest import ApiClient, issue_token
from tests.partners.conftest import fund, key_for

pytestmark = pytest.mark.django_db

WHOLESALE = 3000
TOTAL = 3390  # $30.00 wholesale plus 13% HST (Ontario)


@pytest.fixture(autouse=True)
def _fresh_rate_windows() -> None:
    cache.clear()


@pytest.fixture
def priced(reseller: Reseller, plan: Plan) -> Plan:
    WholesalePrice.objects.create(reseller=reseller, plan=plan, price_cents=WHOLESALE)
    return plan


def _renewal(line: Line, plan: Plan, number: str = "SHOP-1") -> dict[str, object]:
    return {
        "external_order_no": number,
        "kind": "renewal",
        "msisdn": line.msisdn,
        "plan_code": plan.code,
    }


def test_plans_show_retail_and_this_resellers_wholesale_price(
    reseller_api: ApiClient, priced: Plan, make_plan: Callable[..., Plan]
) -> None:
    other = make_plan(code="big60", price_cents=6000)

    response = reseller_api.get("/api/v1/plans")

    assert response.status_code == 200
    by_code = {plan["code"]: plan for plan in response.json()}
    assert by_code[priced.code]["retail_price_cents"] == 3500
    assert by_code[priced.code]["wholesale_price_cents"] == WHOLESALE
    assert by_code[other.code]["wholesale_price_cents"] == 6000


def test_a_renewal_debits_the_float_at_wholesale_and_extends_the_line(
    reseller: Reseller,
    reseller_api: ApiClient,
    priced: Plan,
    line: Line,
) -> None:
    period_end = line.period_end
    fund(reseller, 10_000)

    response = reseller_api.post("/api/v1/orders", _renewal(line, priced))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "fulfilled"
    assert body["external_order_no"] == "SHOP-1"
    assert body["subtotal_cents"] == WHOLESALE
    assert body["total_cents"] == TOTAL
    assert body["esim"] is None
    assert services.float_balance_cents(reseller) == 10_000 - TOTAL
    line.refresh_from_db()
    assert line.period_end > period_end
    order = Order.objects.get(pk=body["id"])
    assert order.reseller_ref == reseller.slug
    assert order.external_reference == "SHOP-1"


def test_the_same_number_and_body_again_is_the_same_order_and_no_second_debit(
    reseller: Reseller,
    reseller_api: ApiClient,
    priced: Plan,
    line: Line,
) -> None:
    fund(reseller, 10_000)
    first = reseller_api.post("/api/v1/orders", _renewal(line, priced))

    again = reseller_api.post("/api/v1/orders", _renewal(line, priced))
    other_body = reseller_api.post("/api/v1/orders", {**_renewal(line, priced), "kind": "new_esim"})

    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert other_body.status_code == 409
    assert other_body["Content-Type"] == "application/problem+json"
    assert other_body.json()["code"] == "idempotency_conflict"
    assert services.float_balance_cents(reseller) == 10_000 - TOTAL
    assert Order.objects.count() == 1


def test_an_order_the_float_cannot_cover_changes_nothing(
    reseller: Reseller,
    reseller_api: ApiClient,
    priced: Plan,
    line: Line,
) -> None:
    fund(reseller, TOTAL - 1)
    period_end = line.period_end
    entries = LedgerEntry.objects.count()

    response = reseller_api.post("/api/v1/orders", _renewal(line, priced))

    assert response.status_code == 422
    assert response.json()["code"] == "insufficient_float"
    assert Order.objects.count() == 0
    assert LedgerEntry.objects.count() == entries
    assert services.float_balance_cents(reseller) == TOTAL - 1
    line.refresh_from_db()
    assert line.period_end == period_end
    # and the same number works once the float is topped up
    fund(reseller, 10)
    assert reseller_api.post("/api/v1/orders", _renewal(line, priced)).status_code == 201


def test_a_new_esim_order_returns_the_activation_code_and_an_authenticated_qr(
    reseller: Reseller,
    reseller_api: ApiClient,
    priced: Plan,
    esim_stock: Callable[[int], None],
) -> None:
    esim_stock(1)
    fund(reseller, 10_000)

    response = reseller_api.post(
        "/api/v1/orders",
        {
            "external_order_no": "E-1",
            "kind": "new_esim",
            "plan_code": priced.code,
            "customer": {"email": "new.customer@example.com", "language": "fr"},
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["esim"]["activation_code"].startswith("LPA:1$smdp.example.com$RSL-")
    assert body["esim"]["qr_url"].endswith(f"/api/v1/orders/{body['id']}/esim-qr.png")
    line = Line.objects.get(msisdn=body["msisdn"])
    assert line.state == LineState.ACTIVE
    assert line.subscriber.user.email == "new.customer@example.com"
    assert line.subscriber.user.language == "fr"
    qr = reseller_api.get(f"/api/v1/orders/{body['id']}/esim-qr.png")
    assert qr.status_code == 200
    assert qr["Content-Type"] == "image/png"
    assert qr.content.startswith(b"\x89PNG")
    assert ApiClient().get(f"/api/v1/orders/{body['id']}/esim-qr.png").status_code == 401


def test_one_resellers_key_cannot_read_another_resellers_order(
    reseller: Reseller,
    reseller_api: ApiClient,
    make_reseller: Callable[..., Reseller],
    priced: Plan,
    line: Line,
) -> None:
    fund(reseller, 10_000)
    order_id = reseller_api.post("/api/v1/orders", _renewal(line, priced)).json()["id"]
    other = ApiClient(key_for(make_reseller("rival")))

    own = reseller_api.get(f"/api/v1/orders/{order_id}")
    theirs = other.get(f"/api/v1/orders/{order_id}")
    lookup = other.get("/api/v1/orders?external_order_no=SHOP-1")

    assert own.status_code == 200
    assert theirs.status_code == 404
    assert theirs.json()["code"] == "not_found"
    assert lookup.json()["items"] == []
    assert other.get(f"/api/v1/orders/{order_id}/esim-qr.png").status_code == 404


def test_lookup_by_the_resellers_own_number(
    reseller: Reseller,
    reseller_api: ApiClient,
    priced: Plan,
    line: Line,
) -> None:
    fund(reseller, 10_000)
    placed = reseller_api.post("/api/v1/orders", _renewal(line, priced)).json()

    found = reseller_api.get("/api/v1/orders?external_order_no=SHOP-1").json()
    missing = reseller_api.get("/api/v1/orders?external_order_no=SHOP-2").json()

    assert [order["id"] for order in found["items"]] == [placed["id"]]
    assert missing["items"] == []


def test_renewable_says_only_whether_and_on_which_plan(
    reseller_api: ApiClient, plan: Plan, line: Line
) -> None:

    live = reseller_api.get(f"/api/v1/lines/{line.msisdn}/renewable")
    unknown = reseller_api.get("/api/v1/lines/+16135550000/renewable")
    garbage = reseller_api.get("/api/v1/lines/not-a-number/renewable")

    assert live.json() == {"renewable": True, "plan_code": plan.code}
    assert unknown.json() == {"renewable": False, "plan_code": None}
    assert garbage.json() == {"renewable": False, "plan_code": None}


def test_refusals_have_stable_codes(
    reseller: Reseller,
    reseller_api: ApiClient,
    plan: Plan,
    line: Line,
) -> None:
    fund(reseller, 10_000)

    unknown_plan = reseller_api.post(
        "/api/v1/orders", {**_renewal(line, plan), "plan_code": "nope"}
    )
    no_line = reseller_api.post(
        "/api/v1/orders", {**_renewal(line, plan, "N-2"), "msisdn": "+16135550000"}
    )
    no_msisdn = reseller_api.post(
        "/api/v1/orders", {"external_order_no": "N-3", "kind": "addon", "plan_code": "x"}
    )
    invalid = reseller_api.post("/api/v1/orders", {"kind": "renewal"})

    assert unknown_plan.json()["code"] == "unknown_plan"
    assert no_line.status_code == 409
    assert no_line.json()["code"] == "line_not_renewable"
    assert no_msisdn.json()["code"] == "unknown_plan"
    assert invalid.status_code == 422
    assert invalid.json()["code"] == "validation_error"
    assert Order.objects.count() == 0


def test_the_float_shows_its_balance_and_movements(
    reseller: Reseller, reseller_api: ApiClient
) -> None:
    fund(reseller, 5000)

    body = reseller_api.get("/api/v1/float").json()

    assert body["balance_cents"] == 5000
    assert body["currency"] == "CAD"
    assert body["movements"][0]["amount_cents"] == 5000
    assert body["movements"][0]["kind"] == "float_topup"


def test_the_monthly_statement_lists_the_months_orders(
    reseller: Reseller,
    reseller_api: ApiClient,
    priced: Plan,
    line: Line,
) -> None:
    fund(reseller, 10_000)
    order = reseller_api.post("/api/v1/orders", _renewal(line, priced)).json()
    month = order["created_at"][:7]

    response = reseller_api.get(f"/api/v1/statements/{month}.csv")
    empty = reseller_api.get("/api/v1/statements/2001-01.csv")
    bad = reseller_api.get("/api/v1/statements/2001-13.csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["order_number", "external_order_no", "created_at"]
    assert rows[1][1] == "SHOP-1"
    assert rows[1][-2] == str(TOTAL)
    assert rows[-1][0] == "total"
    assert len(list(csv.reader(io.StringIO(empty.content.decode())))) == 2
    assert bad.status_code == 422


def test_keys_are_hashed_revocable_and_note_their_last_use(
    reseller: Reseller, reseller_key: str, subscriber: Subscriber
) -> None:
    row = ResellerApiKey.objects.get(reseller=reseller)
    assert reseller_key not in (row.key_hash, row.prefix)
    assert row.last_used_at is None

    assert ApiClient(reseller_key).get("/api/v1/float").status_code == 200
    row.refresh_from_db()
    assert row.last_used_at is not None

    services.revoke_api_key(row, acting_user=None)
    refused = ApiClient(reseller_key).get("/api/v1/float")
    assert refused.status_code == 401
    assert refused.json()["code"] == "not_authenticated"
    # a subscriber's token is no reseller key
    assert ApiClient(issue_token(subscriber.user.username)).get("/api/v1/float").status_code == 401


def test_an_inactive_resellers_keys_stop_working(reseller: Reseller, reseller_key: str) -> None:
    Reseller.objects.filter(pk=reseller.pk).update(is_active=False)

    assert ApiClient(reseller_key).get("/api/v1/plans").status_code == 401


def test_over_the_per_key_rate_the_api_answers_429_with_retry_after(
    make_reseller: Callable[..., Reseller],
) -> None:
    reseller = make_reseller("tiny", rate_limit_per_second=3)
    key = ResellerApiKey.objects.get(pk=services.issue_api_key(reseller, acting_user=None)[0].pk)
    api = ApiClient(services.issue_api_key(reseller, acting_user=None)[1])
    window = 1_000_000.25

    for _ in range(3):
        services.check_rate_limit(key, now=window)
    with pytest.raises(services.TooManyRequests) as refused:
        services.check_rate_limit(key, now=window + 0.5)
    services.check_rate_limit(key, now=window + 1)  # the next second is a new window

    with time_machine.travel(
        dt.datetime(2026, 11, 20, 12, 0, 0, 250_000, tzinfo=dt.UTC), tick=False
    ):
        statuses = [api.get("/api/v1/float") for _ in range(10)]
    throttled = [response for response in statuses if response.status_code == 429]
    assert refused.value.details["retry_after"] == 1
    assert len(throttled) == 7, "ten requests in one second: three pass"
    assert throttled[0]["Retry-After"] == "1"
    assert throttled[0].json()["code"] == "too_many_requests"
