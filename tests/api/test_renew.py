"""POST /api/v1/me/lines/{msisdn}/renew: a wallet renewal, idempotent on Idempotency-Key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.conf import settings
from django.utils import timezone

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.ledger import queries as ledger_queries
from simcare.ledger.models import LedgerTransaction
from simcare.lines.models import Bucket, Line
from simcare.orders.models import Order
from tests.api.conftest import ApiClient, issue_token

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
# The plan fixture: $35.00 before tax; the subscriber lives in ON (HST 13%).
TOTAL = 3955


@pytest.fixture
def line(subscriber: Subscriber, plan: Plan, make_line: Callable[..., Line]) -> Line:
    return make_line(subscriber, plan)


@pytest.fixture
def funded(subscriber: Subscriber, fund_wallet: Callable[[Subscriber, int], None]) -> Subscriber:
    fund_wallet(subscriber, 5000)
    return subscriber


def _renew(api: ApiClient, msisdn: str, body: object, key: str | None = "renew-1") -> object:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return api.post(f"/api/v1/me/lines/{msisdn}/renew", body, **headers)


def _state(subscriber: Subscriber, line: Line) -> tuple[int, int, int, dt.datetime]:
    line.refresh_from_db()
    return (
        ledger_queries.wallet_balance_cents(subscriber),
        Order.objects.count(),
        LedgerTransaction.objects.count(),
        line.period_end,
    )


def test_a_renewal_is_paid_from_the_wallet_and_extends_the_line(
    api: ApiClient, funded: Subscriber, line: Line, plan: Plan
) -> None:
    # given
    period_end = line.period_end
    transactions = LedgerTransaction.objects.count()

    # when
    response = _renew(api, line.msisdn, {"plan_code": plan.code, "payment": "wallet"})

    # then
    assert response.status_code == 201, response.content  # type: ignore[attr-defined]
    order = Order.objects.get()
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {
        "id",
        "number",
        "kind",
        "channel",
        "state",
        "plan_code",
        "addon_code",
        "msisdn",
        "currency",
        "subtotal_cents",
        "discount_cents",
        "tax_cents",
        "total_cents",
        "refunded_cents",
        "payment_method",
        "created_at",
        "paid_at",
        "fulfilled_at",
        "receipt_url",
    }
    assert {key: body[key] for key in body if not key.endswith("_at")} == {
        "id": order.pk,
        "number": order.number,
        "kind": "renewal",
        "channel": "web",
        "state": "fulfilled",
        "plan_code": plan.code,
        "addon_code": None,
        "msisdn": line.msisdn,
        "currency": "CAD",
        "subtotal_cents": 3500,
        "discount_cents": 0,
        "tax_cents": 455,
        "total_cents": TOTAL,
        "refunded_cents": 0,
        "payment_method": "wallet",
        "receipt_url": f"{settings.SIMCARE_PUBLIC_BASE_URL}/en/orders/{order.pk}/receipt/",
    }
    assert body["paid_at"] is not None
    assert body["fulfilled_at"] is not None
    assert order.idempotency_key == f"user:{funded.user.pk}:renew-1"
    assert order.created_by == funded.user
    assert ledger_queries.wallet_balance_cents(funded) == 5000 - TOTAL
    assert LedgerTransaction.objects.count() == transactions + 1
    line.refresh_from_db()
    assert line.period_end == period_end + dt.timedelta(days=plan.validity_days)


def test_the_same_key_and_body_again_returns_the_first_order_and_charges_once(
    api: ApiClient, funded: Subscriber, line: Line, plan: Plan
) -> None:
    body = {"plan_code": plan.code, "payment": "wallet"}
    first = _renew(api, line.msisdn, body)
    after_first = _state(funded, line)

    again = _renew(api, line.msisdn, body)

    assert first.status_code == 201  # type: ignore[attr-defined]
    assert again.status_code == 200  # type: ignore[attr-defined]
    assert again.json() == first.json()  # type: ignore[attr-defined]
    assert _state(funded, line) == after_first
    assert Order.objects.count() == 1


def test_the_same_key_with_another_body_is_a_409_and_changes_nothing(
    api: ApiClient, funded: Subscriber, line: Line, plan: Plan, make_plan: Callable[..., Plan]
) -> None:
    other = make_plan(code="bigger", price_cents=4500)
    _renew(api, line.msisdn, {"plan_code": plan.code, "payment": "wallet"})
    before = _state(funded, line)

    response = _renew(api, line.msisdn, {"plan_code": other.code, "payment": "wallet"})

    assert response.status_code == 409  # type: ignore[attr-defined]
    assert response["Content-Type"] == PROBLEM  # type: ignore[index]
    assert response.json()["code"] == "idempotency_conflict"  # type: ignore[attr-defined]
    assert _state(funded, line) == before


def test_the_key_is_scoped_to_the_subscriber(
    api: ApiClient,
    *,
    funded: Subscriber,
    line: Line,
    plan: Plan,
    make_subscriber: Callable[..., Subscriber],
    make_line: Callable[..., Line],
    fund_wallet: Callable[[Subscriber, int], None],
) -> None:
    other = make_subscriber()
    fund_wallet(other, 5000)
    other_line = make_line(other, plan)
    other_api = ApiClient(issue_token(other.user.username))
    body = {"plan_code": plan.code, "payment": "wallet"}

    mine = _renew(api, line.msisdn, body, key="same-key")
    theirs = _renew(other_api, other_line.msisdn, body, key="same-key")

    assert mine.status_code == theirs.status_code == 201  # type: ignore[attr-defined]
    assert Order.objects.count() == 2


def test_a_short_wallet_is_a_422_and_writes_nothing(
    api: ApiClient, subscriber: Subscriber, line: Line, plan: Plan
) -> None:
    before = _state(subscriber, line)

    response = _renew(api, line.msisdn, {"plan_code": plan.code, "payment": "wallet"})

    assert response.status_code == 422  # type: ignore[attr-defined]
    assert response["Content-Type"] == PROBLEM  # type: ignore[index]
    assert response.json()["code"] == "wallet_short"  # type: ignore[attr-defined]
    assert _state(subscriber, line) == before


def test_a_refusal_speaks_the_subscribers_language(
    make_subscriber: Callable[..., Subscriber], plan: Plan, make_line: Callable[..., Line]
) -> None:
    subscriber = make_subscriber(language="zh-hans")
    line = make_line(subscriber, plan)
    api = ApiClient(issue_token(subscriber.user.username))

    french = ApiClient(issue_token(subscriber.user.username), language="fr")
    body = {"plan_code": plan.code, "payment": "wallet"}

    chinese_detail = _renew(api, line.msisdn, body).json()["detail"]  # type: ignore[attr-defined]
    french_detail = _renew(french, line.msisdn, body).json()["detail"]  # type: ignore[attr-defined]

    assert chinese_detail == "您的钱包余额不足以支付此订单。请充值后重试。"
    assert french_detail.startswith("Le solde de votre portefeuille")


def test_another_subscribers_line_is_a_404_and_nothing_is_charged(
    api: ApiClient,
    *,
    funded: Subscriber,
    plan: Plan,
    make_subscriber: Callable[..., Subscriber],
    make_line: Callable[..., Line],
    fund_wallet: Callable[[Subscriber, int], None],
) -> None:
    other = make_subscriber()
    fund_wallet(other, 5000)
    their_line = make_line(other, plan)
    before = _state(other, their_line)

    response = _renew(api, their_line.msisdn, {"plan_code": plan.code, "payment": "wallet"})

    assert response.status_code == 404  # type: ignore[attr-defined]
    assert response["Content-Type"] == PROBLEM  # type: ignore[index]
    assert response.json()["code"] == "not_found"  # type: ignore[attr-defined]
    assert _state(other, their_line) == before
    assert ledger_queries.wallet_balance_cents(funded) == 5000


@pytest.mark.parametrize("msisdn", ["+14165550000", "not-a-number", "%2B1"])
def test_an_unknown_number_is_a_404(api: ApiClient, funded: Subscriber, msisdn: str) -> None:
    response = _renew(api, msisdn, {"plan_code": "talk30", "payment": "wallet"})

    assert response.status_code == 404  # type: ignore[attr-defined]


def test_a_number_without_the_plus_finds_the_line(
    api: ApiClient, funded: Subscriber, line: Line, plan: Plan
) -> None:
    response = _renew(api, line.msisdn.lstrip("+"), {"plan_code": plan.code, "payment": "wallet"})

    assert response.status_code == 201  # type: ignore[attr-defined]


def test_an_unknown_plan_is_a_422_plan_unavailable(
    api: ApiClient, funded: Subscriber, line: Line
) -> None:
    before = _state(funded, line)

    response = _renew(api, line.msisdn, {"plan_code": "nope", "payment": "wallet"})

    assert response.status_code == 422  # type: ignore[attr-defined]
    assert response.json()["code"] == "plan_unavailable"  # type: ignore[attr-defined]
    assert _state(funded, line) == before


def test_an_unknown_coupon_is_a_422_and_writes_nothing(
    api: ApiClient, funded: Subscriber, line: Line, plan: Plan
) -> None:
    before = _state(funded, line)

    response = _renew(
        api, line.msisdn, {"plan_code": plan.code, "payment": "wallet", "coupon": "NOPE"}
    )

    assert response.status_code == 422  # type: ignore[attr-defined]
    assert response.json()["code"] == "coupon_invalid"  # type: ignore[attr-defined]
    assert _state(funded, line) == before


@pytest.mark.parametrize(
    ("key", "body", "field"),
    [
        (None, {"plan_code": "talk30", "payment": "wallet"}, "Idempotency-Key"),
        ("", {"plan_code": "talk30", "payment": "wallet"}, "Idempotency-Key"),
        ("k" * 201, {"plan_code": "talk30", "payment": "wallet"}, "Idempotency-Key"),
        ("renew-1", {"plan_code": "talk30", "payment": "card"}, "payment"),
        ("renew-1", {"plan_code": "talk30"}, "payment"),
        ("renew-1", {"plan_code": 30, "payment": "wallet"}, "plan_code"),
        ("renew-1", {"plan_code": "talk30", "payment": "wallet", "coupon": 5}, "coupon"),
    ],
)
def test_a_bad_header_or_body_is_a_422_with_the_field_and_writes_nothing(
    api: ApiClient,
    *,
    funded: Subscriber,
    line: Line,
    key: str | None,
    body: dict[str, object],
    field: str,
) -> None:
    before = _state(funded, line)

    response = _renew(api, line.msisdn, body, key=key)

    assert response.status_code == 422  # type: ignore[attr-defined]
    assert response["Content-Type"] == PROBLEM  # type: ignore[index]
    problem = response.json()  # type: ignore[attr-defined]
    assert problem["code"] == "validation_error"
    assert [error["field"] for error in problem["errors"]] == [field]
    assert _state(funded, line) == before


def test_a_malformed_body_is_a_400_and_writes_nothing(
    api: ApiClient, funded: Subscriber, line: Line
) -> None:
    before = _state(funded, line)

    response = api.post(
        f"/api/v1/me/lines/{line.msisdn}/renew", raw="{plan_code", **{"Idempotency-Key": "k"}
    )

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert _state(funded, line) == before


def test_renewed_orders_are_listed_newest_first(
    api: ApiClient, subscriber: Subscriber, line: Line, plan: Plan, fund_wallet: Callable
) -> None:
    fund_wallet(subscriber, 2 * TOTAL)
    body = {"plan_code": plan.code, "payment": "wallet"}
    first = _renew(api, line.msisdn, body, key="a").json()  # type: ignore[attr-defined]
    Order.objects.filter(pk=first["id"]).update(created_at=timezone.now() - dt.timedelta(hours=1))
    second = _renew(api, line.msisdn, body, key="b").json()  # type: ignore[attr-defined]

    listed = api.get("/api/v1/me/orders").json()

    assert listed["count"] == 2
    assert [item["id"] for item in listed["items"]] == [second["id"], first["id"]]


def test_my_lines_show_the_new_period_end_and_only_the_allowances_in_force(
    api: ApiClient, funded: Subscriber, line: Line, plan: Plan
) -> None:
    # given: an active line renewed ahead of time
    before = api.get("/api/v1/me/lines").json()
    _renew(api, line.msisdn, {"plan_code": plan.code, "payment": "wallet"})

    # when
    after = api.get("/api/v1/me/lines").json()

    # then: the period runs on, the next period's buckets are not counted yet
    assert Bucket.objects.filter(line=line).count() == 2 * len(before[0]["buckets"])
    assert after[0]["period_end"] != before[0]["period_end"]
    assert after[0]["buckets"] == before[0]["buckets"]
