"""The core order service: renewals, add-ons, top-ups, coupons, tax, idempotency, refunds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from simcare.accounts.models import Subscriber
from simcare.catalog.models import AddOn, Plan, UsageKind
from simcare.ledger import services as ledger
from simcare.ledger.models import LedgerAccount, LedgerTransaction
from simcare.lines.models import Bucket, BucketSource, Line, LineState, SimKind
from simcare.notify.models import Notification
from simcare.orders import errors
from simcare.orders.models import (
    Coupon,
    CouponUse,
    Order,
    OrderKind,
    OrderState,
    Payment,
    PaymentStatus,
    Promotion,
    PromotionKind,
    Receipt,
)
from simcare.orders.services import ordering
from simcare.stores.models import Store
from tests.orders.conftest import assert_ledger_clean, balance, money_snapshot

NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)

Fund = Callable[[Subscriber, int], LedgerAccount]
MakeLine = Callable[..., Line]


def _renew(line: Line, key: str = "k1", **options: Any) -> Order:
    options.setdefault("channel", "web")
    options.setdefault("payment_method", "wallet")
    return ordering.renew(line, idempotency_key=key, acting_user=None, **options)


def _entries(order: Order) -> dict[str, int]:
    assert order.ledger_transaction is not None
    return dict(order.ledger_transaction.entries.values_list("account__code", "amount_cents"))


@pytest.fixture
def line(subscriber: Subscriber, plan: Plan, make_line: MakeLine) -> Line:
    with time_machine.travel(NOW, tick=False):
        return make_line(subscriber, plan)


def test_renewal_from_the_wallet_extends_from_period_end_and_posts_tax(
    subscriber: Subscriber, line: Line, fund: Fund
) -> None:
    # given a $35 plan, an Ontario subscriber (HST 13%) and $50 in the wallet
    fund(subscriber, 5000)
    old_end = line.period_end
    # when
    with time_machine.travel(NOW + dt.timedelta(days=3), tick=False):
        order = _renew(line)
    # then
    line.refresh_from_db()
    assert order.state == OrderState.FULFILLED
    assert (order.subtotal_cents, order.discount_cents, order.tax_cents, order.total_cents) == (
        3500,
        0,
        455,
        3955,
    )
    assert order.taxes == [{"name": "HST", "rate": "13", "amount_cents": 455}]
    assert line.period_end == old_end + dt.timedelta(days=30)
    assert balance(subscriber) == 5000 - 3955
    assert _entries(order) == {
        f"wallet:{subscriber.pk}": -3955,
        "revenue:plans": 3500,
        "liability:sales_tax": 455,
    }
    assert Receipt.objects.filter(order=order).count() == 1
    payment = Payment.objects.get(order=order)
    assert (payment.method, payment.status, payment.amount_cents) == ("wallet", "succeeded", 3955)
    assert Notification.objects.filter(template="order.fulfilled", channel="email").count() == 1
    assert list(order.items.values_list("kind", "code", "quantity", "amount_cents")) == [
        ("plan", "talk30", 1, 3500)
    ]
    assert_ledger_clean()


def test_the_same_key_twice_gives_one_order_and_one_charge(
    subscriber: Subscriber, line: Line, fund: Fund
) -> None:
    fund(subscriber, 10_000)
    first = _renew(line, key="user:1:abc")
    second = _renew(line, key="user:1:abc")
    assert first.pk == second.pk
    assert Order.objects.count() == 1
    assert LedgerTransaction.objects.filter(kind="order_payment").count() == 1
    assert balance(subscriber) == 10_000 - 3955


def test_the_same_key_for_another_request_is_a_conflict(
    subscriber: Subscriber, line: Line, fund: Fund, make_plan: Callable[..., Plan]
) -> None:
    fund(subscriber, 10_000)
    _renew(line, key="user:1:abc")
    before = money_snapshot()
    with pytest.raises(errors.IdempotencyConflict):
        _renew(line, key="user:1:abc", plan=make_plan(code="big", price_cents=6000))
    assert money_snapshot() == before


def test_a_short_wallet_is_refused_and_changes_nothing(
    subscriber: Subscriber, line: Line, fund: Fund
) -> None:
    fund(subscriber, 1000)
    before = money_snapshot()
    period_end = line.period_end
    with pytest.raises(errors.WalletShort) as refusal:
        _renew(line)
    assert refusal.value.code == "wallet_short"
    assert money_snapshot() == before
    line.refresh_from_db()
    assert line.period_end == period_end
    assert not Notification.objects.filter(template="order.fulfilled").exists()


def test_a_grace_line_restarts_now_and_a_suspended_one_pays_the_reactivation_fee(
    subscriber: Subscriber, make_line: MakeLine, make_plan: Callable[..., Plan], fund: Fund
) -> None:
    plan = make_plan(code="fee30", price_cents=2000, reactivation_fee_cents=500)
    fund(subscriber, 20_000)
    with time_machine.travel(NOW, tick=False):
        grace = make_line(subscriber, plan)
        suspended = make_line(subscriber, plan)
    Line.objects.filter(pk=grace.pk).update(state=LineState.GRACE)
    Line.objects.filter(pk=suspended.pk).update(state=LineState.SUSPENDED)
    later = NOW + dt.timedelta(days=45)
    with time_machine.travel(later, tick=False):
        grace_order = _renew(Line.objects.get(pk=grace.pk), key="g")
        suspended_order = _renew(Line.objects.get(pk=suspended.pk), key="s")
    grace.refresh_from_db()
    suspended.refresh_from_db()
    assert grace.state == suspended.state == LineState.ACTIVE
    assert grace.period_end == later + dt.timedelta(days=30)
    assert grace_order.subtotal_cents == 2000
    assert suspended_order.subtotal_cents == 2500
    assert list(suspended_order.items.values_list("code", "amount_cents")) == [
        ("fee30", 2000),
        ("reactivation", 500),
    ]


def test_a_plan_change_at_renewal_takes_the_new_plan_and_price(
    subscriber: Subscriber, line: Line, fund: Fund, make_plan: Callable[..., Plan]
) -> None:
    bigger = make_plan(code="talk60", price_cents=6000, validity_days=60, data_mb=51200)
    fund(subscriber, 10_000)
    order = _renew(line, plan=bigger)
    line.refresh_from_db()
    assert line.plan == bigger
    assert order.subtotal_cents == 6000
    newest = Bucket.objects.filter(line=line, kind=UsageKind.DATA).order_by("-expires_at").first()
    assert newest is not None
    assert newest.total == 51200 * 1024


def test_a_coupon_is_a_discount_line_in_the_ledger_and_quebec_pays_gst_and_qst(
    make_subscriber: Callable[..., Subscriber], plan: Plan, make_line: MakeLine, fund: Fund
) -> None:
    subscriber = make_subscriber()
    Subscriber.objects.filter(pk=subscriber.pk).update(province="QC")
    subscriber.refresh_from_db()
    line = make_line(subscriber, plan)
    Coupon.objects.create(code="SAVE5", kind="fixed", amount_off_cents=500)
    fund(subscriber, 10_000)
    order = _renew(line, coupon_code=" save5 ")
    # 3500 - 500 = 3000; GST 5% = 150; QST 9.975% = 299.25 → 299
    assert (order.discount_cents, order.tax_cents, order.total_cents) == (500, 449, 3449)
    assert order.taxes == [
        {"name": "GST", "rate": "5", "amount_cents": 150},
        {"name": "QST", "rate": "9.975", "amount_cents": 299},
    ]
    assert _entries(order) == {
        f"wallet:{subscriber.pk}": -3449,
        "expense:promotions": -500,
        "revenue:plans": 3500,
        "liability:sales_tax": 449,
    }
    assert Coupon.objects.get(code="SAVE5").times_used == 1
    assert_ledger_clean()


@pytest.mark.parametrize(
    ("coupon_fields", "reason"),
    [
        ({"valid_until": NOW - dt.timedelta(seconds=1)}, "expired"),
        ({"valid_from": NOW + dt.timedelta(days=1)}, "not_yet_valid"),
        ({"minimum_spend_cents": 3501}, "minimum_spend"),
        ({"max_uses_total": 0}, "exhausted"),
        ({"channels": ["store"]}, "not_applicable"),
        ({"is_active": False}, "inactive"),
    ],
)
def test_a_coupon_that_cannot_be_used_is_refused_with_its_reason(
    subscriber: Subscriber, line: Line, fund: Fund, coupon_fields: dict[str, Any], reason: str
) -> None:
    Coupon.objects.create(code="NOPE", kind="percent", percent_off=10, **coupon_fields)
    fund(subscriber, 10_000)
    before = money_snapshot()
    with time_machine.travel(NOW, tick=False), pytest.raises(errors.CouponRefused) as refusal:
        _renew(line, coupon_code="NOPE")
    assert refusal.value.details["reason"] == reason
    assert refusal.value.code == "coupon_invalid"
    assert money_snapshot() == before


def test_a_minimum_spend_equal_to_the_subtotal_is_enough(
    subscriber: Subscriber, line: Line, fund: Fund
) -> None:
    Coupon.objects.create(code="EDGE", kind="percent", percent_off=10, minimum_spend_cents=3500)
    fund(subscriber, 10_000)
    assert _renew(line, coupon_code="EDGE").discount_cents == 350


def test_unknown_coupon_per_customer_limit_and_first_order_only(
    subscriber: Subscriber, line: Line, fund: Fund
) -> None:
    fund(subscriber, 50_000)
    with pytest.raises(errors.CouponRefused) as unknown:
        _renew(line, key="a", coupon_code="GHOST")
    assert unknown.value.details["reason"] == "unknown"
    Coupon.objects.create(code="ONCE", kind="percent", percent_off=10, max_uses_per_customer=1)
    Coupon.objects.create(code="FIRST", kind="percent", percent_off=10, first_order_only=True)
    _renew(line, key="b", coupon_code="ONCE")
    with pytest.raises(errors.CouponRefused) as again:
        _renew(line, key="c", coupon_code="ONCE")
    assert again.value.details["reason"] == "customer_limit"
    with pytest.raises(errors.CouponRefused) as first:
        _renew(line, key="d", coupon_code="FIRST")
    assert first.value.details["reason"] == "first_order_only"


def test_an_addon_is_a_bucket_capped_at_the_period_end(
    subscriber: Subscriber, line: Line, fund: Fund
) -> None:
    addon = AddOn.objects.create(
        code="data5",
        name_en="5 GB",
        name_fr="5 Go",
        name_zh_hans="5GB",
        kind=UsageKind.DATA,
        quantity=5120,
        price_cents=1500,
        validity_days=60,
    )
    fund(subscriber, 5000)
    order = ordering.place_order(
        kind=OrderKind.ADDON,
        channel="web",
        subscriber=subscriber,
        payment_method="wallet",
        idempotency_key="addon-1",
        acting_user=None,
        line=line,
        addon=addon,
    )
    bucket = Bucket.objects.get(line=line, source=BucketSource.ADDON)
    assert (bucket.total, bucket.expires_at) == (5120 * 1024, line.period_end)
    assert _entries(order)["revenue:addons"] == 1500
    Line.objects.filter(pk=line.pk).update(state=LineState.GRACE)
    with pytest.raises(errors.LineNotActive):
        ordering.place_order(
            kind=OrderKind.ADDON,
            channel="web",
            subscriber=subscriber,
            payment_method="wallet",
            idempotency_key="addon-2",
            acting_user=None,
            line=Line.objects.get(pk=line.pk),
            addon=addon,
        )


def _card_topup(subscriber: Subscriber, settings: Any, key: str = "top-1") -> Order:
    settings.SIMCARE_STRIPE_SECRET_KEY = "sk_test_local"
    settings.SIMCARE_STRIPE_WEBHOOK_SECRET = "whsec_local"  # card needs both keys
    return ordering.place_order(
        kind=OrderKind.WALLET_TOPUP,
        channel="web",
        subscriber=subscriber,
        payment_method="card",
        idempotency_key=key,
        acting_user=None,
        amount_cents=2000,
    )


def test_a_card_top_up_waits_for_the_provider_then_settles_once(
    subscriber: Subscriber, settings: Any
) -> None:
    pytest.importorskip("simcare.orders.services.cards")
    order = _card_topup(subscriber, settings)
    assert (order.state, order.total_cents, order.tax_cents) == (OrderState.PENDING, 2000, 0)
    assert balance(subscriber) == 0
    with pytest.raises(errors.PaymentAmountMismatch):
        ordering.settle_order(order, provider="stripe", provider_reference="cs_1", amount_cents=1)
    ordering.settle_order(order, provider="stripe", provider_reference="cs_1", amount_cents=2000)
    ordering.settle_order(order, provider="stripe", provider_reference="cs_1", amount_cents=2000)
    order.refresh_from_db()
    assert order.state == OrderState.FULFILLED
    assert balance(subscriber) == 2000
    assert Payment.objects.filter(order=order, status=PaymentStatus.SUCCEEDED).count() == 1
    assert LedgerTransaction.objects.filter(kind="wallet_topup").count() == 1
    assert_ledger_clean()


def test_card_is_hidden_without_keys(settings: Any) -> None:
    settings.SIMCARE_STRIPE_SECRET_KEY = ""
    assert "card" not in ordering.available_payment_methods(channel="web")
    assert ordering.available_payment_methods(channel="store") == ["cash", "wallet"]


def test_cancelling_a_pending_order_releases_its_coupon(
    subscriber: Subscriber, line: Line, settings: Any
) -> None:
    pytest.importorskip("simcare.orders.services.cards")
    settings.SIMCARE_STRIPE_SECRET_KEY = "sk_test_local"
    settings.SIMCARE_STRIPE_WEBHOOK_SECRET = "whsec_local"  # card needs both keys
    Coupon.objects.create(code="ONE", kind="percent", percent_off=50, max_uses_total=1)
    order = _renew(line, payment_method="card", coupon_code="ONE")
    assert Coupon.objects.get(code="ONE").times_used == 1
    ordering.cancel_order(order, acting_user=None)
    order.refresh_from_db()
    assert order.state == OrderState.CANCELLED
    assert Coupon.objects.get(code="ONE").times_used == 0
    assert not CouponUse.objects.exists()
    with pytest.raises(errors.OrderNotPayable):
        ordering.settle_order(
            order, provider="stripe", provider_reference="cs_x", amount_cents=order.total_cents
        )


def test_a_refund_to_the_wallet_is_idempotent_and_bounded(
    subscriber: Subscriber, line: Line, fund: Fund
) -> None:
    fund(subscriber, 5000)
    order = _renew(line)
    ordering.refund_order(
        order,
        amount_cents=1000,
        to_wallet=True,
        acting_user=None,
        reason="goodwill",
        idempotency_key="r1",
    )
    ordering.refund_order(
        order,
        amount_cents=1000,
        to_wallet=True,
        acting_user=None,
        reason="goodwill",
        idempotency_key="r1",
    )
    order.refresh_from_db()
    assert (order.state, order.refunded_cents) == (OrderState.REFUNDED, 1000)
    assert balance(subscriber) == 5000 - 3955 + 1000
    # 1000 of 3955 carries 115 of the 455 tax (1000 * 455 / 3955 = 115.04)
    refund = LedgerTransaction.objects.get(kind="refund")
    assert dict(refund.entries.values_list("account__code", "amount_cents")) == {
        f"wallet:{subscriber.pk}": 1000,
        "revenue:plans": -885,
        "liability:sales_tax": -115,
    }
    with pytest.raises(errors.RefundTooLarge):
        ordering.refund_order(
            order,
            amount_cents=2956,
            to_wallet=True,
            acting_user=None,
            reason="too much",
            idempotency_key="r2",
        )
    assert Notification.objects.filter(template="order.refunded").count() == 1
    assert_ledger_clean()


def test_a_new_line_sold_for_cash_in_a_store(
    subscriber: Subscriber, plan: Plan, store: Store
) -> None:
    from simcare.lines.models import Number, SimCard
    from tests.lines.stock_support import iccid

    Number.objects.create(msisdn="+14165550199")
    SimCard.objects.create(iccid=iccid(777), kind=SimKind.PHYSICAL, store=store, location="TOR-01")
    order = ordering.place_order(
        kind=OrderKind.NEW_LINE,
        channel="store",
        subscriber=subscriber,
        payment_method="cash",
        idempotency_key="store:1:sale-1",
        acting_user=None,
        plan=plan,
        sim_kind="physical",
        store=store,
    )
    assert order.state == OrderState.FULFILLED
    assert order.line is not None
    assert order.line.msisdn == "+14165550199"
    assert ledger.store_drawer(store).cached_balance_cents == -order.total_cents
    assert_ledger_clean()


def test_renewing_three_periods_ahead_earns_the_promotion_bonus(
    subscriber: Subscriber, line: Line, fund: Fund
) -> None:
    bonus = AddOn.objects.create(
        code="bonus5",
        name_en="5 GB bonus",
        name_fr="5 Go en prime",
        name_zh_hans="赠送5GB",
        kind=UsageKind.DATA,
        quantity=5120,
        price_cents=0,
        validity_days=90,
        is_active=False,
    )
    promotion = Promotion.objects.create(
        name_en="Renew 3, get 5 GB",
        name_fr="Renouvelez 3, 5 Go offerts",
        name_zh_hans="续费3期送5GB",
        kind=PromotionKind.RENEW_AHEAD_BONUS,
        minimum_periods=3,
        bonus_addon=bonus,
    )
    fund(subscriber, 20_000)
    start_end = line.period_end
    two = _renew(line, key="two", periods=2)
    assert two.promotion is None
    three = _renew(Line.objects.get(pk=line.pk), key="three", periods=3)
    assert three.promotion == promotion
    line.refresh_from_db()
    assert line.period_end == start_end + dt.timedelta(days=150)
    bonus_bucket = Bucket.objects.get(line=line, addon=bonus)
    assert (bonus_bucket.total, bonus_bucket.expires_at) == (5120 * 1024, line.period_end)
    assert three.subtotal_cents == 3 * 3500


def test_a_recycled_line_cannot_be_renewed(subscriber: Subscriber, line: Line, fund: Fund) -> None:
    fund(subscriber, 5000)
    Line.objects.filter(pk=line.pk).update(state=LineState.RECYCLED, recycled_at=timezone.now())
    before = money_snapshot()
    with pytest.raises(errors.LineNotRenewable):
        _renew(Line.objects.get(pk=line.pk))
    assert money_snapshot() == before
