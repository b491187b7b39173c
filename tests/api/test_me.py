"""GET /api/v1/me/lines, /me/wallet, /me/orders: exact shapes, only the caller's own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from simcare.accounts.models import Subscriber
from simcare.catalog.models import AddOn, Plan, UsageKind
from simcare.lines.models import Bucket, BucketSource, Line, LineState, SimKind
from simcare.orders.models import Order, OrderKind, OrderState, PaymentMethod, SalesChannel
from tests.api.conftest import ApiClient, issue_token

pytestmark = pytest.mark.django_db


def _iso(moment: dt.datetime) -> str:
    """As the API renders a time: ISO 8601 in UTC to the millisecond (DjangoJSONEncoder)."""
    text: str = DjangoJSONEncoder().default(moment)
    return text


def test_my_lines_have_the_contract_shape(
    api: ApiClient, subscriber: Subscriber, make_plan: Callable[..., Plan], make_line: Callable
) -> None:
    # given: a plan with 1 GB of data, 300 minutes and unlimited SMS, and an add-on bucket
    plan = make_plan(code="talk30", data_mb=1024, voice_minutes=300, sms_messages=None)
    line: Line = make_line(subscriber, plan, kind=SimKind.ESIM)
    Bucket.objects.filter(line=line, kind=UsageKind.DATA).update(used=1000)
    addon = AddOn.objects.create(
        code="data1",
        name_en="Data 1 GB",
        name_fr="Données 1 Go",
        name_zh_hans="流量1GB",
        kind=UsageKind.DATA,
        quantity=1024,
        price_cents=1000,
        validity_days=30,
    )
    addon_expiry = line.period_end - dt.timedelta(days=1)
    Bucket.objects.create(
        line=line,
        kind=UsageKind.DATA,
        source=BucketSource.ADDON,
        addon=addon,
        total=1048576,
        starts_at=line.period_start,
        expires_at=addon_expiry,
    )

    # when
    response = api.get("/api/v1/me/lines")

    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == [
        {
            "msisdn": line.msisdn,
            "iccid": line.sim.iccid,
            "kind": "esim",
            "state": "active",
            "plan_code": "talk30",
            "period_end": _iso(line.period_end),
            "auto_renew": False,
            "buckets": [
                {
                    "kind": "data",
                    "unit": "KB",
                    "total": 1048576,
                    "remaining": 1048576,
                    "expires_at": _iso(addon_expiry),
                    "source": "addon",
                    "zone": "CA",
                },
                {
                    "kind": "data",
                    "unit": "KB",
                    "total": 1048576,
                    "remaining": 1047576,
                    "expires_at": _iso(line.period_end),
                    "source": "plan",
                    "zone": "CA",
                },
                {
                    "kind": "voice",
                    "unit": "minute",
                    "total": 300,
                    "remaining": 300,
                    "expires_at": _iso(line.period_end),
                    "source": "plan",
                    "zone": "CA",
                },
                {
                    "kind": "sms",
                    "unit": "message",
                    "total": None,
                    "remaining": None,
                    "expires_at": _iso(line.period_end),
                    "source": "plan",
                    "zone": "CA",
                },
            ],
        }
    ]


def test_expired_buckets_and_closed_lines_are_left_out(
    api: ApiClient, subscriber: Subscriber, plan: Plan, make_line: Callable
) -> None:
    # given: one line with an expired add-on, one recycled line
    line: Line = make_line(subscriber, plan)
    past = timezone.now() - dt.timedelta(days=1)
    Bucket.objects.create(
        line=line,
        kind=UsageKind.DATA,
        source=BucketSource.ADDON,
        total=100,
        starts_at=past - dt.timedelta(days=30),
        expires_at=past,
    )
    closed: Line = make_line(subscriber, plan)
    Line.objects.filter(pk=closed.pk).update(state=LineState.RECYCLED)

    # when
    body = api.get("/api/v1/me/lines").json()

    # then
    assert [item["msisdn"] for item in body] == [line.msisdn]
    assert [bucket["source"] for bucket in body[0]["buckets"]] == ["plan", "plan", "plan"]


def test_my_lines_never_show_another_subscribers(
    api: ApiClient,
    subscriber: Subscriber,
    make_subscriber: Callable[..., Subscriber],
    plan: Plan,
    make_line: Callable,
) -> None:
    other = make_subscriber()
    make_line(other, plan)
    mine: Line = make_line(subscriber, plan)

    body = api.get("/api/v1/me/lines").json()
    theirs = ApiClient(issue_token(other.user.username)).get("/api/v1/me/lines").json()

    assert [item["msisdn"] for item in body] == [mine.msisdn]
    assert len(theirs) == 1
    assert theirs[0]["msisdn"] != mine.msisdn


def test_my_wallet_is_its_ledger_balance(
    api: ApiClient, subscriber: Subscriber, fund_wallet: Callable[[Subscriber, int], None]
) -> None:
    assert api.get("/api/v1/me/wallet").json() == {"balance_cents": 0, "currency": "CAD"}

    fund_wallet(subscriber, 2500)
    fund_wallet(subscriber, 1000)

    assert api.get("/api/v1/me/wallet").json() == {"balance_cents": 3500, "currency": "CAD"}


def _order(subscriber: Subscriber, line: Line | None, plan: Plan | None, number: int) -> Order:
    created = timezone.now() - dt.timedelta(hours=10 - number)
    return Order.objects.create(
        kind=OrderKind.RENEWAL,
        channel=SalesChannel.WEB,
        state=OrderState.FULFILLED,
        subscriber=subscriber,
        line=line,
        plan=plan,
        subtotal_cents=3500,
        discount_cents=500,
        tax_cents=390,
        total_cents=3390,
        payment_method=PaymentMethod.WALLET,
        idempotency_key=f"test:{subscriber.pk}:{number}",
        created_at=created,
        paid_at=created,
        fulfilled_at=created,
    )


def test_my_orders_have_the_stable_shape_newest_first(
    api: ApiClient,
    subscriber: Subscriber,
    make_subscriber: Callable[..., Subscriber],
    plan: Plan,
    make_line: Callable,
) -> None:
    # given
    line: Line = make_line(subscriber, plan)
    older = _order(subscriber, line, plan, 1)
    newer = _order(subscriber, None, None, 2)
    _order(make_subscriber(), None, None, 3)

    # when
    response = api.get("/api/v1/me/orders")

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [item["id"] for item in body["items"]] == [newer.pk, older.pk]
    assert body["items"][1] == {
        "id": older.pk,
        "number": f"SC-{older.pk:07d}",
        "kind": "renewal",
        "channel": "web",
        "state": "fulfilled",
        "plan_code": plan.code,
        "addon_code": None,
        "msisdn": line.msisdn,
        "currency": "CAD",
        "subtotal_cents": 3500,
        "discount_cents": 500,
        "tax_cents": 390,
        "total_cents": 3390,
        "refunded_cents": 0,
        "payment_method": "wallet",
        "created_at": _iso(older.created_at),
        "paid_at": _iso(older.created_at),
        "fulfilled_at": _iso(older.created_at),
        "receipt_url": None,
    }
    assert body["items"][0]["msisdn"] is None
    assert body["items"][0]["plan_code"] is None


def test_my_orders_come_in_pages(api: ApiClient, subscriber: Subscriber) -> None:
    orders = [_order(subscriber, None, None, number) for number in range(1, 6)]
    newest_first = [order.pk for order in reversed(orders)]

    first = api.get("/api/v1/me/orders?page_size=2").json()
    third = api.get("/api/v1/me/orders?page_size=2&page=3").json()
    beyond = api.get("/api/v1/me/orders?page_size=2&page=9").json()

    assert first["count"] == 5
    assert [item["id"] for item in first["items"]] == newest_first[:2]
    assert [item["id"] for item in third["items"]] == newest_first[4:]
    assert beyond == {"items": [], "count": 5}


@pytest.mark.parametrize("query", ["page=0", "page=x", "page_size=0", "page_size=101"])
def test_a_bad_page_is_a_422_problem(api: ApiClient, query: str) -> None:
    response = api.get(f"/api/v1/me/orders?{query}")

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == query.split("=", maxsplit=1)[0]
