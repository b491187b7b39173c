"""Reseller orders in batches (partners/batching.py): the same rows as the per-order path,
duplicates inside one batch, a failing batch retried one by one, and the batcher thread
over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.db import transaction
from django.db.models import Model

from simcare.accounts.models import AuditEvent, Subscriber
from simcare.catalog.models import AddOn, Plan
from simcare.ledger import queries as ledger_queries
from simcare.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from simcare.lines.models import Bucket, Line, LineEvent, LineState
from simcare.notify.models import Notification
from simcare.orders.models import Order, OrderItem, Payment, Promotion, Receipt, SalesChannel
from simcare.orders.services import ordering
from simcare.partners import batching, errors, services
from simcare.partners.models import Reseller, ResellerOrder, WebhookEvent, WholesalePrice
from tests.api.conftest import ApiClient
from tests.concurrency import at_once
from tests.partners.conftest import fund

pytestmark = pytest.mark.django_db

WHOLESALE = 3000
TOTAL = 3390  # $30.00 wholesale plus 13% HST (Ontario)
MOMENT = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_rate_windows() -> None:
    cache.clear()


def _request(reseller: Reseller, number: str, **fields: Any) -> batching.OrderRequest:
    return batching.OrderRequest(
        reseller=reseller,
        external_order_no=number,
        kind=fields.pop("kind", "renewal"),
        plan_code=fields.pop("plan_code"),
        msisdn=fields.pop("msisdn", None),
    )


def _outcome(result: batching.Result) -> str:
    if result.error is not None:
        return getattr(result.error, "code", type(result.error).__name__)
    assert result.order is not None
    return f"{'created' if result.created else 'again'}:{result.order.external_reference}"


# --- the same rows as the per-order path ---------------------------------------------------


@pytest.fixture
def world(
    make_reseller: Callable[..., Reseller],
    make_plan: Callable[..., Plan],
    make_subscriber: Callable[..., Subscriber],
    make_line: Callable[..., Line],
) -> dict[str, Any]:
    """Two resellers (one with a webhook, one with a float for a renewal and an add-on), a
    plan with a wholesale price and a reactivation fee, an add-on, a promotion with a bonus
    add-on on the reseller channel, and lines active, in grace and suspended."""
    with time_machine.travel(MOMENT - dt.timedelta(days=40), tick=False):
        plan = make_plan(code="talk30", price_cents=3500, reactivation_fee_cents=500)
        other = make_plan(code="old10", price_cents=1000, is_active=False)
        addon = AddOn.objects.create(
            code="data5",
            name_en="5 GB",
            name_fr="5 Go",
            name_zh_hans="5 GB",
            kind="data",
            quantity=5120,
            price_cents=1500,
            validity_days=30,
        )
        bonus = AddOn.objects.create(
            code="bonus1",
            name_en="1 GB bonus",
            name_fr="1 Go offert",
            name_zh_hans="1 GB 赠送",
            kind="data",
            quantity=1024,
            price_cents=0,
            validity_days=30,
        )
        promotion = Promotion.objects.create(
            name_en="Bonus",
            name_fr="Bonus",
            name_zh_hans="奖励",
            kind="renew_ahead_bonus",
            minimum_periods=1,
            bonus_addon=bonus,
            channels=[SalesChannel.RESELLER],
        )
        promotion.plans.add(plan)
        hooked = make_reseller("hooked", webhook_url="https://shop.example.com/hook")
        thin = make_reseller("thin")
        WholesalePrice.objects.create(reseller=hooked, plan=plan, price_cents=WHOLESALE)
        fund(hooked, 100_000)
        fund(thin, 3955 + 1695 + 100)  # a renewal and an add-on, at retail
        lines = {
            name: make_line(make_subscriber(language=language), plan)
            for name, language in (
                ("active", "fr"),
                ("twice", "en"),
                ("grace", "zh-hans"),
                ("suspended", "en"),
                ("old", "en"),
            )
        }
    Line.objects.filter(pk=lines["grace"].pk).update(
        state=LineState.GRACE, period_end=MOMENT - dt.timedelta(days=2)
    )
    Line.objects.filter(pk=lines["suspended"].pk).update(
        state=LineState.SUSPENDED, period_end=MOMENT - dt.timedelta(days=9)
    )
    Line.objects.filter(pk=lines["old"].pk).update(plan=other)
    return {"hooked": hooked, "thin": thin, "plan": plan, "other": other, "addon": addon, **lines}


def _requests(world: dict[str, Any]) -> list[batching.OrderRequest]:
    hooked, thin = world["hooked"], world["thin"]
    plan, addon = world["plan"].code, world["addon"].code

    def number(name: str) -> str:
        line: Line = world[name]
        return line.msisdn

    return [
        _request(hooked, "H-1", plan_code=plan, msisdn=number("active")),
        _request(hooked, "H-2", plan_code=plan, msisdn=number("twice")),
        _request(hooked, "H-3", plan_code=plan, msisdn=number("twice")),
        _request(hooked, "H-4", kind="addon", plan_code=addon, msisdn=number("grace")),
        _request(hooked, "H-5", plan_code=plan, msisdn=number("grace")),
        _request(hooked, "H-6", kind="addon", plan_code=addon, msisdn=number("grace")),
        _request(hooked, "H-7", plan_code=plan, msisdn=number("suspended")),
        _request(hooked, "H-8", plan_code="nope", msisdn=number("active")),
        _request(hooked, "H-9", plan_code=plan),
        _request(hooked, "H-10", plan_code=plan, msisdn="+16135550000"),
        _request(hooked, "H-11", plan_code=plan, msisdn="not a number"),
        _request(hooked, "H-12", plan_code=world["other"].code, msisdn=number("active")),
        _request(hooked, "H-13", plan_code=world["other"].code, msisdn=number("old")),
        _request(hooked, "H-1", plan_code=plan, msisdn=number("active")),
        _request(hooked, "H-2", plan_code=plan, msisdn=number("active")),
        _request(thin, "T-1", plan_code=plan, msisdn=number("active")),
        _request(thin, "T-2", plan_code=plan, msisdn=number("twice")),
        _request(thin, "T-3", kind="addon", plan_code=addon, msisdn=number("active")),
        _request(thin, "T-4", kind="addon", plan_code=addon, msisdn=number("twice")),
    ]


def _per_order(requests: list[batching.OrderRequest]) -> list[batching.Result]:
    results = []
    for request in requests:
        try:
            order, created = services.place_reseller_order(
                request.reseller,
                external_order_no=request.external_order_no,
                kind=request.kind,
                plan_code=request.plan_code,
                msisdn=request.msisdn,
            )
            results.append(batching.Result(order=order, created=created))
        except Exception as error:
            results.append(batching.Result(error=error))
    return results


_IGNORED = {"id", "transaction_id", "ledger_transaction_id", "delivery_id"}


def _rows(world: dict[str, Any]) -> dict[str, Any]:
    """Every row the orders wrote, with ids replaced by what they stand for."""
    orders = {order.pk: order for order in Order.objects.all()}
    names = {order.pk: f"<{order.external_reference}>" for order in orders.values()}
    numbers = {order.number: names[order.pk] for order in orders.values()}

    def text(value: Any) -> Any:
        if isinstance(value, str):
            value = re.sub(r"SC-\d{7}", lambda match: numbers.get(match.group(0), "?"), value)
            value = re.sub(r"order:(\d+):", lambda m: f"order:{names[int(m.group(1))]}:", value)
            value = re.sub(r"/orders/(\d+)/", lambda m: f"/orders/{names[int(m.group(1))]}/", value)
            value = re.sub(
                r"fulfilled:(\d+)", lambda m: f"fulfilled:{names[int(m.group(1))]}", value
            )
        if isinstance(value, dict):
            return {key: _order_ref(key, text(item), names) for key, item in value.items()}
        if isinstance(value, list):
            return [text(item) for item in value]
        return value

    def row(instance: Model, **replace: Any) -> dict[str, Any]:
        values = {
            field.attname: text(getattr(instance, field.attname))
            for field in instance._meta.concrete_fields
            if field.attname not in _IGNORED
        }
        if "order_id" in values and values["order_id"] is not None:
            values["order_id"] = names[values["order_id"]]
        values.update(replace)
        return values

    def rows(queryset: Any, **replace: Callable[[Any], Any]) -> list[dict[str, Any]]:
        made = [row(item, **{key: fn(item) for key, fn in replace.items()}) for item in queryset]
        return sorted(made, key=lambda item: json.dumps(item, sort_keys=True, default=str))

    def entries(txn_id: int | None) -> list[tuple[str, int]]:
        return sorted(
            LedgerEntry.objects.filter(transaction_id=txn_id).values_list(
                "account__code", "amount_cents"
            )
        )

    def webhook_body(event: WebhookEvent) -> Any:
        body = json.loads(event.body)
        body.pop("id")
        body["data"]["order"]["id"] = names[body["data"]["order"]["id"]]
        return text(body)

    def audit_object(event: AuditEvent) -> str:
        return names[int(event.object_id)] if event.object_type == "order" else event.object_id

    return {
        "orders": rows(
            Order.objects.all(), payment=lambda order: entries(order.ledger_transaction_id)
        ),
        "items": rows(OrderItem.objects.all()),
        "payments": rows(Payment.objects.all()),
        "claims": rows(ResellerOrder.objects.all()),
        "transactions": rows(
            LedgerTransaction.objects.filter(kind="order_payment"),
            entries=lambda txn: entries(txn.pk),
        ),
        "balances": sorted(
            LedgerAccount.objects.values_list("code", "cached_balance_cents").order_by("code")
        ),
        "lines": rows(Line.objects.all()),
        "buckets": rows(Bucket.objects.all()),
        "events": rows(LineEvent.objects.all()),
        "notifications": rows(Notification.objects.all()),
        "receipts": rows(Receipt.objects.all()),
        "webhooks": rows(WebhookEvent.objects.all(), body=webhook_body),
        "audit": rows(
            AuditEvent.objects.exclude(action__startswith="reseller."),
            object_id=audit_object,
        ),
        "breaks": ledger_queries.find_breaks(),
    }


def _order_ref(key: str, value: Any, names: dict[int, str]) -> Any:
    return names.get(value, value) if key == "order_id" and isinstance(value, int) else value


def test_a_batch_writes_what_the_per_order_path_writes(world: dict[str, Any]) -> None:
    requests = _requests(world)

    # when: the orders one by one through the per-order path, then (undone) in one batch
    with time_machine.travel(MOMENT, tick=False):
        with transaction.atomic():
            one_by_one = [_outcome(result) for result in _per_order(requests)]
            expected = _rows(world)
            transaction.set_rollback(True)
        batched = [_outcome(result) for result in batching.place_reseller_orders(requests)]
        got = _rows(world)

    # then: the same answers and the same rows
    assert batched == one_by_one
    assert batched == [
        "created:H-1",
        "created:H-2",
        "created:H-3",
        "line_not_active",
        "created:H-5",
        "created:H-6",
        "created:H-7",
        "unknown_plan",
        "msisdn_required",
        "line_not_renewable",
        "line_not_renewable",
        "plan_unavailable",
        "created:H-13",
        "again:H-1",
        "idempotency_conflict",
        "created:T-1",
        "insufficient_float",
        "created:T-3",  # smaller: the float still covers it
        "insufficient_float",
    ]
    for table, rows in expected.items():
        assert got[table] == rows, table
    assert got["breaks"] == []
    assert len(got["webhooks"]) == 7  # the hooked reseller's orders only


# --- duplicates inside one batch -----------------------------------------------------------


def test_duplicates_in_one_batch_follow_the_first(
    reseller: Reseller, plan: Plan, line: Line
) -> None:
    # given: a float for one order only
    fund(reseller, 3955 + 10)
    renew = {"plan_code": plan.code, "msisdn": line.msisdn}
    requests = [
        _request(reseller, "A", **renew),
        _request(reseller, "A", **renew),
        _request(reseller, "A", kind="addon", plan_code="data5", msisdn=line.msisdn),
        _request(reseller, "B", **renew),  # the float is spent: refused
        _request(reseller, "B", **renew),  # the same body: the same refusal
        _request(reseller, "C", plan_code="nope", msisdn=line.msisdn),
        _request(reseller, "C", kind="addon", plan_code="nope", msisdn=line.msisdn),
    ]

    results = batching.place_reseller_orders(requests)

    assert [_outcome(result) for result in results] == [
        "created:A",
        "again:A",
        "idempotency_conflict",
        "insufficient_float",
        "insufficient_float",
        "unknown_plan",
        "unknown_plan",
    ]
    assert results[0].order is not None
    assert results[1].order is not None
    assert results[0].order.pk == results[1].order.pk
    assert Order.objects.count() == 1
    assert ResellerOrder.objects.count() == 1
    assert services.float_balance_cents(reseller) == 10
    assert ledger_queries.find_breaks() == []


def test_after_a_refusal_a_later_request_with_another_body_is_tried_afresh(
    reseller: Reseller, plan: Plan, line: Line
) -> None:
    fund(reseller, 10_000)
    requests = [
        _request(reseller, "X", plan_code="nope", msisdn=line.msisdn),
        _request(reseller, "X", plan_code=plan.code, msisdn=line.msisdn),
        _request(reseller, "X", plan_code=plan.code, msisdn=line.msisdn),
    ]

    results = batching.place_reseller_orders(requests)

    assert [_outcome(result) for result in results] == ["unknown_plan", "created:X", "again:X"]
    assert services.float_balance_cents(reseller) == 10_000 - 3955


# --- failure isolation ---------------------------------------------------------------------


def test_a_failing_batch_is_placed_again_one_by_one(
    reseller: Reseller,
    plan: Plan,
    make_subscriber: Callable[..., Subscriber],
    make_line: Callable[..., Line],
) -> None:
    # given: an order already holding the key the batch would give one of its orders (placed
    # without its reseller claim), so the batch's insert of the orders fails
    fund(reseller, 100_000)
    lines = [make_line(make_subscriber(), plan) for _ in range(3)]
    ordering.place_order(
        kind="renewal",
        channel=SalesChannel.RESELLER,
        subscriber=lines[1].subscriber,
        payment_method="reseller_float",
        idempotency_key=f"reseller:{reseller.pk}:TAKEN",
        acting_user=None,
        plan=plan,
        line=lines[1],
        reseller_ref=reseller.slug,
    )
    requests = [
        _request(reseller, "OK-1", plan_code=plan.code, msisdn=lines[0].msisdn),
        _request(reseller, "TAKEN", plan_code=plan.code, msisdn=lines[1].msisdn),
        _request(reseller, "OK-2", plan_code=plan.code, msisdn=lines[2].msisdn),
    ]

    results = batching.place_reseller_orders(requests)

    # then: the others are placed; the one in conflict gets the per-order path's answer
    # (place_order finds the order with its key and the same request: that order, claimed)
    assert [_outcome(result) for result in results] == [
        "created:OK-1",
        "created:TAKEN",
        "created:OK-2",
    ]
    assert Order.objects.count() == 3
    assert LedgerTransaction.objects.filter(kind="order_payment").count() == 3
    assert ledger_queries.find_breaks() == []


# --- the batcher thread over HTTP ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_through_the_batcher_thread(
    threaded_batches: None,
    make_reseller: Callable[..., Reseller],
    plan: Plan,
    make_subscriber: Callable[..., Subscriber],
    make_line: Callable[..., Line],
) -> None:
    # given: two resellers, one with a float for three orders (every ledger invariant is
    # checked after: transactions sum to zero, cached balances are their entries' sums, no
    # float below its limit)
    rich = make_reseller("rich", rate_limit_per_second=1000)
    poor = make_reseller("poor", rate_limit_per_second=1000)
    keys = {
        reseller.slug: services.issue_api_key(reseller, acting_user=None)[1]
        for reseller in (rich, poor)
    }
    fund(rich, 100_000)
    fund(poor, 3 * 3955)
    lines = [make_line(make_subscriber(), plan) for _ in range(4)]
    period_ends = {line.pk: line.period_end for line in lines}

    def order(index: int) -> tuple[str, int, str]:
        slug = "rich" if index % 2 or index >= 12 else "poor"
        response = ApiClient(keys[slug]).post(
            "/api/v1/orders",
            {
                "external_order_no": f"O-{index}",
                "kind": "renewal",
                "msisdn": lines[index % 4].msisdn,
                "plan_code": plan.code if index < 12 else "nope",
            },
        )
        return slug, response.status_code, response.json().get("code", "")

    # when: 15 orders at once: 6 renewals each, and 3 of an unknown plan
    results = at_once(order, 15)

    # then: the rich reseller's six placed, three of the poor one's, the rest refused
    assert sorted(results) == sorted(
        [("rich", 201, "")] * 6
        + [("poor", 201, "")] * 3
        + [("poor", 422, "insufficient_float")] * 3
        + [("rich", 422, "unknown_plan")] * 3
    )
    assert services.float_balance_cents(rich) == 100_000 - 6 * 3955
    assert services.float_balance_cents(poor) == 0
    renewals = sum(
        (line.period_end - period_ends[line.pk]) // dt.timedelta(days=plan.validity_days)
        for line in Line.objects.filter(pk__in=period_ends)
    )
    assert renewals == 9
    assert ledger_queries.find_breaks() == []


@pytest.mark.django_db(transaction=True)
def test_a_refusal_from_the_batcher_thread_is_in_the_requests_language(
    threaded_batches: None, reseller: Reseller, reseller_api: ApiClient, plan: Plan, line: Line
) -> None:
    WholesalePrice.objects.create(reseller=reseller, plan=plan, price_cents=WHOLESALE)
    fund(reseller, TOTAL - 1)
    body = {"external_order_no": "L-1", "kind": "renewal", "msisdn": line.msisdn}

    refused = reseller_api.post(
        "/api/v1/orders", {**body, "plan_code": plan.code}, **{"Accept-Language": "fr"}
    )
    unknown = reseller_api.post(
        "/api/v1/orders", {**body, "plan_code": "nope"}, **{"Accept-Language": "zh-hans"}
    )

    assert refused.status_code == 422
    assert refused.json()["code"] == errors.InsufficientFloat.code
    assert refused.json()["detail"].startswith("Le solde de votre fonds prépayé")
    assert unknown.json()["code"] == errors.UnknownPlan.code
    assert unknown.json()["detail"] == "没有使用此代码的在售套餐或附加包。"
    assert Order.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("threaded_batches")
def test_an_order_not_answered_in_time_is_503_and_the_same_number_again_returns_it(
    settings: Any,
    reseller: Reseller,
    reseller_api: ApiClient,
    plan: Plan,
    line: Line,
) -> None:
    fund(reseller, 10_000)
    body = {
        "external_order_no": "SLOW-1",
        "kind": "renewal",
        "msisdn": line.msisdn,
        "plan_code": plan.code,
    }
    settings.SIMCARE_RESELLER_BATCH_TIMEOUT = 1e-9  # no batch answers that fast

    pending = reseller_api.post("/api/v1/orders", body)
    settings.SIMCARE_RESELLER_BATCH_TIMEOUT = 30
    again = reseller_api.post("/api/v1/orders", body)

    assert pending.status_code == 503
    assert pending.json()["code"] == errors.OrderPending.code
    assert again.status_code == 200  # placed by the first request's batch
    assert Order.objects.get().pk == again.json()["id"]
    assert services.float_balance_cents(reseller) == 10_000 - 3955
