"""Orders: place, settle, fulfil, cancel, fail, refund; the renewal service every channel calls.

An order is placed with an idempotency key scoped by whoever asks
("user:7:<Idempotency-Key>", "reseller:3:<external_order_no>",
"auto:<line>:<period_end epoch>:<attempt>"). The key is a unique column, so the
same key twice, or twice at the same moment, gives one order: the second call
waits on the first's insert, then reads and returns it (or refuses with
IdempotencyConflict when it asked for something else).

Money collected at once (wallet, store cash, reseller float) is posted, and the
order fulfilled (line extended, buckets created, SIM assigned), in the same
database transaction as the order's state change: either all of it happened or
none. Money a provider collects (card, PayPal) arrives later through
settle_order, called by a verified webhook or capture, which does the same in
one transaction and is idempotent on the provider's reference.

Ledger postings follow simcare.orders.models' docstring: the payer's account
(wallet, clearing:<provider>, cash drawer, float) gives the total; the discount
is drawn from expense:promotions; revenue:plans / revenue:addons take the
subtotal and liability:sales_tax the tax.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from simcare.accounts.models import Subscriber, User
from simcare.accounts.services import record_audit
from simcare.catalog.models import AddOn, Plan, UsageKind
from simcare.ledger import services as ledger
from simcare.ledger.errors import InsufficientFunds
from simcare.ledger.models import LedgerAccount, LedgerTransaction, TransactionKind
from simcare.lines import services as line_services
from simcare.lines.errors import LineRecycled
from simcare.lines.models import Bucket, BucketSource, Line, LineState, SimCard, SimKind
from simcare.notify import services as notify
from simcare.orders import errors, pricing
from simcare.orders.models import (
    Coupon,
    CouponUse,
    ItemKind,
    Order,
    OrderItem,
    OrderKind,
    OrderState,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Promotion,
    Receipt,
    SalesChannel,
)
from simcare.orders.services import receipts
from simcare.orders.tax import DEFAULT_RATES
from simcare.stores.models import Store

# Which payment methods each channel may use (providers also need their keys).
CHANNEL_METHODS: dict[str, tuple[str, ...]] = {
    SalesChannel.WEB: (PaymentMethod.WALLET, PaymentMethod.CARD, PaymentMethod.PAYPAL),
    SalesChannel.AGENT: (PaymentMethod.WALLET,),
    SalesChannel.IVR: (PaymentMethod.WALLET,),
    SalesChannel.STORE: (PaymentMethod.CASH, PaymentMethod.WALLET),
    SalesChannel.RESELLER: (PaymentMethod.RESELLER_FLOAT,),
    SalesChannel.AUTO: (PaymentMethod.WALLET, PaymentMethod.CARD),
}
# Collected in the same transaction as the order; the others wait for their provider.
IMMEDIATE_METHODS = frozenset(
    {PaymentMethod.WALLET, PaymentMethod.CASH, PaymentMethod.RESELLER_FLOAT}
)
PROVIDER_BY_METHOD: dict[str, str] = {PaymentMethod.CARD: "stripe", PaymentMethod.PAYPAL: "paypal"}
PAID_STATES = frozenset({OrderState.PAID, OrderState.FULFILLED, OrderState.REFUNDED})

TOPUP_MINIMUM_CENTS = 500
TOPUP_MAXIMUM_CENTS = 50_000
MAX_PERIODS = 12


def tax_rates() -> dict[str, list[list[str]]]:
    configured = getattr(settings, "SIMCARE_SALES_TAX", None)
    return configured or DEFAULT_RATES


def provider_is_configured(provider: str) -> bool:
    """Whether the card (stripe) or PayPal adapter has its keys; without them it is hidden."""
    try:
        module = importlib.import_module(f"simcare.orders.services.{_adapter_module(provider)}")
    except ModuleNotFoundError:
        return False
    return bool(module.is_configured())


def _adapter_module(provider: str) -> str:
    return {"stripe": "cards", "paypal": "paypal"}[provider]


def available_payment_methods(*, channel: str) -> list[str]:
    """The methods a customer may choose on this channel: card and PayPal only when configured."""
    methods = []
    for method in CHANNEL_METHODS.get(channel, ()):
        provider = PROVIDER_BY_METHOD.get(method)
        if provider is None or provider_is_configured(provider):
            methods.append(str(method))
    return methods


# --- pricing ---------------------------------------------------------------------------------


def _coupon_terms(coupon: Coupon) -> pricing.CouponTerms:
    return pricing.CouponTerms(
        code=coupon.code,
        kind=coupon.kind,
        percent_off=coupon.percent_off,
        amount_off_cents=coupon.amount_off_cents,
        minimum_spend_cents=coupon.minimum_spend_cents,
        valid_from=coupon.valid_from,
        valid_until=coupon.valid_until,
        max_uses_total=coupon.max_uses_total,
        max_uses_per_customer=coupon.max_uses_per_customer,
        plan_codes=frozenset(coupon.plans.values_list("code", flat=True)),
        channels=frozenset(coupon.channels or ()),
        first_order_only=coupon.first_order_only,
        is_active=coupon.is_active,
        times_used=coupon.times_used,
    )


def _promotion_terms(promotion: Promotion) -> pricing.PromotionTerms:
    return pricing.PromotionTerms(
        promotion_id=promotion.pk,
        kind=promotion.kind,
        minimum_periods=promotion.minimum_periods,
        plan_codes=frozenset(promotion.plans.values_list("code", flat=True)),
        channels=frozenset(promotion.channels or ()),
        valid_from=promotion.valid_from,
        valid_until=promotion.valid_until,
        is_active=promotion.is_active,
    )


def _language_of(subscriber: Subscriber | None) -> str:
    return subscriber.user.language if subscriber is not None else settings.LANGUAGE_CODE


def _in(language: str, message: str) -> str:
    with translation.override(language):
        return str(_(message))


def _items(
    *,
    kind: str,
    plan: Plan | None,
    addon: AddOn | None,
    line: Line | None,
    periods: int,
    amount_cents: int | None,
    language: str,
    unit_price_cents: int | None = None,
) -> list[pricing.PricedItem]:
    if kind in {OrderKind.RENEWAL, OrderKind.NEW_LINE}:
        assert plan is not None  # noqa: S101  (checked by _check_request)
        items = [
            pricing.PricedItem(
                kind=ItemKind.PLAN,
                code=plan.code,
                description=plan.translated("name", language)[:200],
                quantity=periods,
                unit_price_cents=plan.price_cents if unit_price_cents is None else unit_price_cents,
            )
        ]
        if (
            kind == OrderKind.RENEWAL
            and line is not None
            and line.state == LineState.SUSPENDED
            and plan.reactivation_fee_cents
        ):
            items.append(
                pricing.PricedItem(
                    kind=ItemKind.FEE,
                    code="reactivation",
                    description=_in(language, gettext_noop("Reactivation fee")),
                    quantity=1,
                    unit_price_cents=plan.reactivation_fee_cents,
                )
            )
        return items
    if kind == OrderKind.ADDON:
        assert addon is not None  # noqa: S101
        return [
            pricing.PricedItem(
                kind=ItemKind.ADDON,
                code=addon.code,
                description=addon.translated("name", language)[:200],
                quantity=1,
                unit_price_cents=addon.price_cents
                if unit_price_cents is None
                else unit_price_cents,
            )
        ]
    assert amount_cents is not None  # noqa: S101
    return [
        pricing.PricedItem(
            kind=ItemKind.TOPUP,
            code="wallet",
            description=_in(language, gettext_noop("Wallet top-up")),
            quantity=1,
            unit_price_cents=amount_cents,
        )
    ]


def _check_request(
    *,
    kind: str,
    channel: str,
    subscriber: Subscriber | None,
    plan: Plan | None,
    addon: AddOn | None,
    line: Line | None,
    sim_kind: str,
    periods: int,
    amount_cents: int | None,
) -> None:
    if kind not in OrderKind.values or channel not in SalesChannel.values:
        raise errors.InvalidOrder(kind=kind, channel=channel)
    if not 1 <= periods <= MAX_PERIODS or (periods != 1 and kind != OrderKind.RENEWAL):
        raise errors.InvalidOrder(periods=periods)
    if line is not None and subscriber is not None and line.subscriber_id != subscriber.pk:
        raise errors.InvalidOrder(line=line.pk)
    if kind == OrderKind.RENEWAL:
        _check_renewal(line, plan)
    elif kind == OrderKind.NEW_LINE:
        if plan is None or subscriber is None or sim_kind not in SimKind.values:
            raise errors.InvalidOrder(kind=kind)
        if not plan.is_active:
            raise errors.PlanUnavailable(plan=plan.code)
    elif kind == OrderKind.ADDON:
        _check_addon(line, addon)
    elif (
        subscriber is None
        or amount_cents is None
        or not TOPUP_MINIMUM_CENTS <= amount_cents <= TOPUP_MAXIMUM_CENTS
    ):
        raise errors.InvalidOrder(kind=kind, amount_cents=amount_cents)


def _check_renewal(line: Line | None, plan: Plan | None) -> None:
    if line is None or plan is None:
        raise errors.InvalidOrder(kind=OrderKind.RENEWAL)
    if line.state == LineState.RECYCLED:
        raise errors.LineNotRenewable(msisdn=line.msisdn)
    # A line may renew on its own plan after it left the catalog; a change needs a plan on sale.
    if not plan.is_active and plan.pk != line.plan_id:
        raise errors.PlanUnavailable(plan=plan.code)


def _check_addon(line: Line | None, addon: AddOn | None) -> None:
    if line is None or addon is None:
        raise errors.InvalidOrder(kind=OrderKind.ADDON)
    if not addon.is_active:
        raise errors.PlanUnavailable(addon=addon.code)
    if line.state != LineState.ACTIVE:
        raise errors.LineNotActive(msisdn=line.msisdn)


def _earlier_orders(subscriber: Subscriber | None) -> bool:
    if subscriber is None:
        return False
    return Order.objects.filter(
        subscriber=subscriber, state__in=sorted(PAID_STATES), kind__in=["new_line", "renewal"]
    ).exists()


def _evaluate_coupon(
    coupon_code: str,
    *,
    kind: str,
    channel: str,
    plan_code: str,
    subtotal_cents: int,
    subscriber: Subscriber | None,
    now: dt.datetime,
    lock: bool,
) -> Coupon | None:
    code = coupon_code.strip()
    if not code:
        return None
    coupons = Coupon.objects.select_for_update() if lock else Coupon.objects.all()
    coupon = coupons.filter(code__iexact=code).first()
    if coupon is None:
        raise errors.CouponRefused(reason="unknown")
    customer_uses = (
        CouponUse.objects.filter(coupon=coupon, subscriber=subscriber).count() if subscriber else 0
    )
    reason = pricing.coupon_refusal(
        _coupon_terms(coupon),
        pricing.CouponUseContext(
            now=now,
            order_kind=kind,
            channel=channel,
            plan_code=plan_code,
            subtotal_cents=subtotal_cents,
            customer_uses=customer_uses,
            customer_has_earlier_orders=_earlier_orders(subscriber),
        ),
    )
    if reason is not None:
        raise errors.CouponRefused(reason=reason, coupon=coupon.code)
    return coupon


def _applicable_promotion(
    *, kind: str, channel: str, plan_code: str, periods: int, now: dt.datetime
) -> Promotion | None:
    if kind != OrderKind.RENEWAL:
        return None
    for promotion in Promotion.objects.filter(is_active=True).order_by("-minimum_periods", "pk"):
        terms = _promotion_terms(promotion)
        if pricing.promotion_applies(
            terms, now=now, order_kind=kind, channel=channel, plan_code=plan_code, periods=periods
        ):
            return promotion
    return None


def _province(subscriber: Subscriber | None, store: Store | None) -> str:
    # Place of supply: the store for a counter sale, else the subscriber's province.
    if store is not None:
        return store.province
    if subscriber is not None and subscriber.province:
        return subscriber.province
    return "ON"


def _quote(
    *,
    kind: str,
    channel: str,
    subscriber: Subscriber | None,
    plan: Plan | None,
    addon: AddOn | None,
    line: Line | None,
    sim_kind: str,
    periods: int,
    amount_cents: int | None,
    coupon_code: str,
    store: Store | None,
    now: dt.datetime,
    lock: bool,
    unit_price_cents: int | None = None,
) -> tuple[pricing.Quote, Coupon | None, Promotion | None]:
    if kind == OrderKind.RENEWAL and plan is None and line is not None:
        plan = line.plan
    _check_request(
        kind=kind,
        channel=channel,
        subscriber=subscriber,
        plan=plan,
        addon=addon,
        line=line,
        sim_kind=sim_kind,
        periods=periods,
        amount_cents=amount_cents,
    )
    items = _items(
        kind=kind,
        plan=plan,
        addon=addon,
        line=line,
        periods=periods,
        amount_cents=amount_cents,
        language=_language_of(subscriber),
        unit_price_cents=unit_price_cents,
    )
    subtotal = sum(item.amount_cents for item in items)
    plan_code = plan.code if plan is not None else ""
    coupon = _evaluate_coupon(
        coupon_code,
        kind=kind,
        channel=channel,
        plan_code=plan_code,
        subtotal_cents=subtotal,
        subscriber=subscriber,
        now=now,
        lock=lock,
    )
    promotion = _applicable_promotion(
        kind=kind, channel=channel, plan_code=plan_code, periods=periods, now=now
    )
    quote = pricing.price(
        items,
        province=_province(subscriber, store),
        tax_rates=tax_rates(),
        coupon=_coupon_terms(coupon) if coupon is not None else None,
        promotion_id=promotion.pk if promotion is not None else None,
        taxed=kind != OrderKind.WALLET_TOPUP,
    )
    return quote, coupon, promotion


def quote(
    *,
    kind: str,
    channel: str,
    subscriber: Subscriber | None,
    plan: Plan | None = None,
    addon: AddOn | None = None,
    line: Line | None = None,
    sim_kind: str = "",
    periods: int = 1,
    amount_cents: int | None = None,
    coupon_code: str = "",
    store: Store | None = None,
    now: dt.datetime | None = None,
) -> pricing.Quote:
    """What the order would cost now, with its discount and tax lines; writes nothing.

    Refuses like place_order would (CouponRefused, PlanUnavailable, LineNotActive, …).
    """
    result, _coupon, _promotion = _quote(
        kind=kind,
        channel=channel,
        subscriber=subscriber,
        plan=plan,
        addon=addon,
        line=line,
        sim_kind=sim_kind,
        periods=periods,
        amount_cents=amount_cents,
        coupon_code=coupon_code,
        store=store,
        now=now or timezone.now(),
        lock=False,
    )
    return result


# --- placing ---------------------------------------------------------------------------------


def _fingerprint(**request: Any) -> str:
    encoded = json.dumps(request, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


def _same_or_conflict(existing: Order, fingerprint: str) -> Order:
    if existing.request_fingerprint != fingerprint:
        raise errors.IdempotencyConflict(order=existing.pk)
    return existing


@transaction.atomic
def place_order(
    *,
    kind: str,
    channel: str,
    subscriber: Subscriber | None,
    payment_method: str,
    idempotency_key: str,
    acting_user: User | None,
    plan: Plan | None = None,
    addon: AddOn | None = None,
    line: Line | None = None,
    sim_kind: str = "",
    sim: SimCard | None = None,
    msisdn: str | None = None,
    periods: int = 1,
    amount_cents: int | None = None,
    coupon_code: str = "",
    store: Store | None = None,
    reseller_ref: str = "",
    unit_price_cents: int | None = None,
    now: dt.datetime | None = None,
) -> Order:
    """Place an order; wallet, cash and reseller-float orders come back fulfilled.

    unit_price_cents replaces the plan's or add-on's catalog price (a reseller's
    wholesale price); it is not part of the request's fingerprint.

    Card and PayPal orders come back pending with their total: the payment adapter
    collects and calls settle_order. The same idempotency_key again returns the
    first order (IdempotencyConflict if the request differs). Refusals (WalletShort,
    CouponRefused, PlanUnavailable, LineNotRenewable, …) write nothing.
    """
    now = now or timezone.now()
    key = (idempotency_key or "").strip()
    if not key or len(key) > 200:
        raise errors.InvalidOrder(idempotency_key="missing or longer than 200 characters")
    if kind == OrderKind.RENEWAL and plan is None and line is not None:
        plan = line.plan
    fingerprint = _fingerprint(
        kind=kind,
        channel=channel,
        subscriber=subscriber.pk if subscriber else None,
        payment_method=payment_method,
        plan=plan.code if plan else None,
        addon=addon.code if addon else None,
        line=line.pk if line else None,
        sim_kind=sim_kind,
        sim=sim.pk if sim else None,
        msisdn=msisdn,
        periods=periods,
        amount_cents=amount_cents,
        coupon=coupon_code.strip().upper(),
        store=store.pk if store else None,
        reseller_ref=reseller_ref,
    )
    existing = Order.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return _same_or_conflict(existing, fingerprint)

    if payment_method not in CHANNEL_METHODS.get(channel, ()):
        raise errors.PaymentMethodUnavailable(method=payment_method, channel=channel)
    provider = PROVIDER_BY_METHOD.get(payment_method)
    if provider is not None and not provider_is_configured(provider):
        raise errors.PaymentMethodUnavailable(method=payment_method, channel=channel)
    if kind == OrderKind.WALLET_TOPUP and payment_method == PaymentMethod.WALLET:
        raise errors.PaymentMethodUnavailable(method=payment_method, kind=kind)
    if line is not None:
        # Read the state under the line's lock: a sweep or another renewal may be moving it.
        # Only the line's row ("self"): FOR UPDATE would otherwise lock the joined plan row
        # too, and every order on a plan would queue on that one row.
        line = Line.objects.select_for_update(of=("self",)).select_related("plan").get(pk=line.pk)

    priced, coupon, promotion = _quote(
        kind=kind,
        channel=channel,
        subscriber=subscriber,
        plan=plan,
        addon=addon,
        line=line,
        sim_kind=sim_kind,
        periods=periods,
        amount_cents=amount_cents,
        coupon_code=coupon_code,
        store=store,
        now=now,
        lock=True,
        unit_price_cents=unit_price_cents,
    )
    try:
        # A savepoint: a concurrent call with the same key that committed first makes
        # this insert fail; the transaction stays usable to read and return its order.
        with transaction.atomic():
            order = Order.objects.create(
                kind=kind,
                channel=channel,
                state=OrderState.PENDING,
                subscriber=subscriber,
                line=line,
                plan=plan,
                addon=addon,
                sim_kind=sim_kind,
                periods=periods,
                store=store,
                subtotal_cents=priced.subtotal_cents,
                discount_cents=priced.discount_cents,
                tax_cents=priced.tax_cents,
                total_cents=priced.total_cents,
                taxes=[tax_line.as_json() for tax_line in priced.taxes],
                province=_province(subscriber, store),
                coupon=coupon,
                promotion=promotion,
                payment_method=payment_method,
                idempotency_key=key,
                request_fingerprint=fingerprint,
                language=_language_of(subscriber),
                reseller_ref=reseller_ref,
                created_by=acting_user,
                created_at=now,
            )
    except IntegrityError:
        winner = Order.objects.filter(idempotency_key=key).first()
        if winner is None:
            raise
        return _same_or_conflict(winner, fingerprint)

    items = OrderItem.objects.bulk_create(
        OrderItem(
            order=order,
            kind=item.kind,
            code=item.code,
            description=item.description,
            quantity=item.quantity,
            unit_price_cents=item.unit_price_cents,
            amount_cents=item.amount_cents,
        )
        for item in priced.items
    )
    if coupon is not None:
        CouponUse.objects.create(
            coupon=coupon,
            order=order,
            subscriber=subscriber,
            discount_cents=priced.discount_cents,
            created_at=now,
        )
        Coupon.objects.filter(pk=coupon.pk).update(times_used=F("times_used") + 1)
    record_audit(
        "order.placed",
        actor=acting_user,
        target=order,
        kind=kind,
        channel=channel,
        payment_method=payment_method,
        total_cents=order.total_cents,
    )
    if payment_method in IMMEDIATE_METHODS:
        payer = _immediate_payer(order, payment_method)
        # Paid and fulfilled first, the money last: posting locks the payer's account (a
        # wallet, a reseller's float: one row every order of that payer needs), so it is
        # held only from the posting to the commit. A payer short of money still refuses
        # the whole order (WalletShort), and the transaction undoes the fulfilment.
        order.state = OrderState.PAID
        order.paid_at = now
        _fulfil(order, acting_user=acting_user, sim=sim, msisdn=msisdn, now=now)
        _collect(
            order,
            payer=payer,
            provider="",
            provider_reference="",
            now=now,
            items=items,
            mark_paid=False,
        )
    return order


def _immediate_payer(order: Order, payment_method: str) -> LedgerAccount:
    if payment_method == PaymentMethod.WALLET:
        if order.subscriber is None:
            raise errors.InvalidOrder(payment_method=payment_method)
        return ledger.wallet_for(order.subscriber)
    if payment_method == PaymentMethod.CASH:
        if order.store is None:
            raise errors.InvalidOrder(payment_method=payment_method)
        return ledger.store_drawer(order.store)
    if not order.reseller_ref:
        raise errors.InvalidOrder(payment_method=payment_method)
    return ledger.reseller_float(order.reseller_ref)


def _legs(
    order: Order,
    payer: LedgerAccount,
    items: list[OrderItem] | None = None,
    accounts: dict[str, LedgerAccount] | None = None,
) -> list[tuple[LedgerAccount, int]]:
    """The order's ledger legs; `accounts` (system accounts by code, read once for a batch
    of orders; one missing is opened and added) saves reading them again."""
    if order.kind == OrderKind.WALLET_TOPUP:
        assert order.subscriber is not None  # noqa: S101
        return [
            (payer, -order.total_cents),
            (ledger.wallet_for(order.subscriber), order.total_cents),
        ]
    revenue: dict[str, int] = defaultdict(int)
    for item in order.items.all() if items is None else items:
        account = "revenue:addons" if item.kind == ItemKind.ADDON else "revenue:plans"
        revenue[account] += item.amount_cents
    revenue = {code: amount for code, amount in revenue.items() if amount}
    codes = list(revenue)
    if order.discount_cents:
        codes.append("expense:promotions")
    if order.tax_cents:
        codes.append("liability:sales_tax")
    if accounts is None:
        accounts = ledger.system_accounts(codes)
    elif any(code not in accounts for code in codes):  # opened on first use, then kept
        accounts.update(ledger.system_accounts([code for code in codes if code not in accounts]))
    legs: list[tuple[LedgerAccount, int]] = []
    if order.total_cents:
        legs.append((payer, -order.total_cents))
    if order.discount_cents:
        legs.append((accounts["expense:promotions"], -order.discount_cents))
    for code, amount in sorted(revenue.items()):
        legs.append((accounts[code], amount))
    if order.tax_cents:
        legs.append((accounts["liability:sales_tax"], order.tax_cents))
    return legs


def _collect(
    order: Order,
    *,
    payer: LedgerAccount,
    provider: str,
    provider_reference: str,
    now: dt.datetime,
    items: list[OrderItem] | None = None,
    mark_paid: bool = True,
) -> Payment:
    legs = _legs(order, payer, items)
    txn = None
    if legs:
        try:
            txn = ledger.post_transaction(
                kind=(
                    TransactionKind.WALLET_TOPUP
                    if order.kind == OrderKind.WALLET_TOPUP
                    else TransactionKind.ORDER_PAYMENT
                ),
                entries=legs,
                memo=f"{order.number} {order.kind}",
                idempotency_key=f"order:{order.pk}:payment",
                reference=order.number,
            )
        except InsufficientFunds as short:
            raise errors.WalletShort(
                balance_cents=short.details.get("balance_cents"),
                total_cents=order.total_cents,
            ) from None
    payment = None
    if provider_reference:
        payment = (
            Payment.objects.select_for_update()
            .filter(provider=provider, provider_reference=provider_reference)
            .first()
        )
    if payment is None:
        payment = Payment(
            order=order,
            method=order.payment_method,
            provider=provider,
            provider_reference=provider_reference,
            amount_cents=order.total_cents,
            created_at=now,
        )
    payment.status = PaymentStatus.SUCCEEDED
    payment.ledger_transaction = txn
    payment.completed_at = now
    payment.save()
    order.ledger_transaction = txn
    if mark_paid:
        order.state = OrderState.PAID
        order.paid_at = now
        order.save(update_fields=["state", "paid_at", "ledger_transaction"])
    else:  # place_order's immediate payment: the state was saved by _fulfil
        order.save(update_fields=["ledger_transaction"])
    return payment


def _addon_bucket(
    line: Line, addon: AddOn, *, now: dt.datetime, expires_at: dt.datetime | None = None
) -> Bucket:
    """The add-on's bucket on the line; it expires at `expires_at` when given (a promotion's
    bonus ends with the period it came with), else after the add-on's validity, capped at the
    line's period_end unless the add-on may outlive it."""
    bucket = addon_bucket_row(line, addon, now=now, expires_at=expires_at)
    bucket.save(force_insert=True)
    return bucket


def addon_bucket_row(
    line: Line, addon: AddOn, *, now: dt.datetime, expires_at: dt.datetime | None = None
) -> Bucket:
    """_addon_bucket's row, not saved (a batch of orders inserts many at once)."""
    if expires_at is None:
        expires_at = now + dt.timedelta(days=addon.validity_days)
        if not addon.outlives_period:
            expires_at = min(expires_at, line.period_end)
    quantity = addon.quantity * 1024 if addon.kind == UsageKind.DATA else addon.quantity
    return Bucket(
        line=line,
        kind=addon.kind,
        zone=addon.zone,
        source=BucketSource.ADDON,
        addon=addon,
        total=quantity,
        starts_at=now,
        expires_at=expires_at,
    )


def _fulfil(
    order: Order,
    *,
    acting_user: User | None,
    sim: SimCard | None = None,
    msisdn: str | None = None,
    now: dt.datetime,
) -> None:
    if order.kind == OrderKind.RENEWAL:
        assert order.line is not None  # noqa: S101
        assert order.plan is not None  # noqa: S101
        line = order.line
        try:
            for _period in range(order.periods):
                line = line_services.renew_line_period(
                    line, order.plan, acting_user=acting_user, cause=f"renewal:{order.channel}"
                )
        except LineRecycled:
            raise errors.LineNotRenewable(msisdn=line.msisdn) from None
        if order.promotion is not None and order.promotion.bonus_addon is not None:
            _addon_bucket(line, order.promotion.bonus_addon, now=now, expires_at=line.period_end)
    elif order.kind == OrderKind.ADDON:
        assert order.line is not None  # noqa: S101
        assert order.addon is not None  # noqa: S101
        _addon_bucket(order.line, order.addon, now=now)
    elif order.kind == OrderKind.NEW_LINE:
        assert order.subscriber is not None  # noqa: S101
        assert order.plan is not None  # noqa: S101
        order.line = line_services.activate_line(
            order.subscriber,
            order.plan,
            kind=SimKind(order.sim_kind),
            acting_user=acting_user,
            sim=sim,
            msisdn=msisdn,
            now=now,
        )
    order.state = OrderState.FULFILLED
    order.fulfilled_at = now
    order.save(update_fields=["state", "paid_at", "fulfilled_at", "line"])
    _partner_event(order, "order.fulfilled")
    receipt = receipts.receipt_for_fulfilment(order)
    record_audit(
        "order.fulfilled",
        actor=acting_user,
        target=order,
        kind=order.kind,
        line=order.line_id,
        total_cents=order.total_cents,
    )
    if order.subscriber is not None:
        notify.enqueue(
            "order.fulfilled",
            recipient=order.subscriber.user,
            line=order.line,
            now=now,
            **fulfilled_notice(order, receipt),
        )


def fulfilled_notice(order: Order, receipt: Receipt) -> dict[str, Any]:
    """The order.fulfilled email's context, dedupe key and channel, for `notify.enqueue` or
    `notify.notification_rows` (the per-order and the batch path say the same)."""
    return {
        "context": {
            "order_id": order.pk,
            "order_number": order.number,
            "kind": order.kind,
            "receipt_url": receipts.receipt_url(receipt),
        },
        "dedupe_key": f"order.fulfilled:{order.pk}",
        "channels": ("email",),
    }


# --- provider payments, cancellation, failure, refunds ---------------------------------------


@transaction.atomic
def settle_order(
    order: Order,
    *,
    provider: str,
    provider_reference: str,
    amount_cents: int,
    now: dt.datetime | None = None,
) -> Order:
    """Record money a provider confirmed and fulfil the order, all in one transaction.

    Idempotent on (provider, provider_reference): a webhook delivered twice settles once.
    Refuses PaymentAmountMismatch (amount differs from the total) and OrderNotPayable
    (the order was cancelled, failed or already paid through another payment).
    """
    now = now or timezone.now()
    if not provider_reference:
        raise errors.InvalidOrder(provider_reference="missing")
    order = Order.objects.select_for_update().get(pk=order.pk)
    settled = Payment.objects.filter(
        provider=provider, provider_reference=provider_reference, status=PaymentStatus.SUCCEEDED
    ).first()
    if settled is not None:
        if settled.order_id != order.pk:
            raise errors.OrderNotPayable(order=order.pk)
        return order
    if order.state != OrderState.PENDING:
        raise errors.OrderNotPayable(order=order.pk, state=order.state)
    if amount_cents != order.total_cents:
        raise errors.PaymentAmountMismatch(expected=order.total_cents, received=amount_cents)
    clearing = ledger.system_account(f"clearing:{provider}")
    _collect(
        order, payer=clearing, provider=provider, provider_reference=provider_reference, now=now
    )
    _fulfil(order, acting_user=None, now=now)
    return order


def _partner_event(order: Order, event: str) -> None:
    """A reseller's order writes its webhook to the outbox in this transaction."""
    if order.reseller_ref:
        from simcare.partners.services import queue_order_event

        queue_order_event(order, event)


def _release_coupon(order: Order) -> None:
    use = CouponUse.objects.filter(order=order).first()
    if use is not None:
        Coupon.objects.filter(pk=use.coupon_id).update(times_used=F("times_used") - 1)
        use.delete()


def _close_pending(
    order: Order, *, state: str, code: str, acting_user: User | None, now: dt.datetime
) -> Order:
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.state == state:
        return order
    if order.state != OrderState.PENDING:
        raise errors.OrderNotCancellable(order=order.pk, state=order.state)
    order.state = state
    order.closed_at = now
    order.failure_code = code[:60]
    order.save(update_fields=["state", "closed_at", "failure_code"])
    order.payments.filter(status=PaymentStatus.PENDING).update(
        status=PaymentStatus.FAILED if state == OrderState.FAILED else PaymentStatus.CANCELLED,
        completed_at=now,
    )
    _release_coupon(order)
    record_audit(f"order.{state}", actor=acting_user, target=order, code=code)
    if state == OrderState.FAILED:
        _partner_event(order, "order.failed")
    if state == OrderState.FAILED and order.subscriber is not None:
        notify.enqueue(
            "order.failed",
            recipient=order.subscriber.user,
            line=order.line,
            context={"order_id": order.pk, "order_number": order.number, "kind": order.kind},
            dedupe_key=f"order.failed:{order.pk}",
            channels=("email",),
            now=now,
        )
    return order


@transaction.atomic
def fail_order(order: Order, *, code: str, now: dt.datetime | None = None) -> Order:
    """A pending order whose payment failed for good (declined, expired checkout)."""
    return _close_pending(
        order, state=OrderState.FAILED, code=code, acting_user=None, now=now or timezone.now()
    )


@transaction.atomic
def cancel_order(
    order: Order, *, acting_user: User | None, now: dt.datetime | None = None
) -> Order:
    """The customer or an agent gives up a pending order; its coupon use is released."""
    return _close_pending(
        order,
        state=OrderState.CANCELLED,
        code="cancelled",
        acting_user=acting_user,
        now=now or timezone.now(),
    )


def _round_share(amount: int, part: int, whole: int) -> int:
    if whole == 0:
        return 0
    share = Decimal(amount) * Decimal(part) / Decimal(whole)
    return int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@transaction.atomic
def refund_order(
    order: Order,
    *,
    amount_cents: int,
    to_wallet: bool,
    acting_user: User | None,
    reason: str,
    idempotency_key: str,
    now: dt.datetime | None = None,
) -> Order:
    """Give back amount_cents of a paid order, to the wallet or to the original method.

    Idempotent on idempotency_key. The refund's tax share comes back from
    liability:sales_tax, the rest from the revenue account; what the line received
    (days, buckets) is the after-sales flow's business, not this function's.
    """
    now = now or timezone.now()
    order = Order.objects.select_for_update().get(pk=order.pk)
    ledger_key = f"refund:{order.pk}:{idempotency_key}"
    if LedgerTransaction.objects.filter(idempotency_key=ledger_key).exists():
        return order
    if order.state not in PAID_STATES:
        raise errors.RefundRefused(order=order.pk, state=order.state)
    if isinstance(amount_cents, bool) or amount_cents <= 0:
        raise errors.RefundTooLarge(amount_cents=amount_cents)
    if amount_cents > order.total_cents - order.refunded_cents:
        raise errors.RefundTooLarge(
            amount_cents=amount_cents, left_cents=order.total_cents - order.refunded_cents
        )
    if order.kind == OrderKind.WALLET_TOPUP and to_wallet:
        raise errors.RefundRefused(order=order.pk, reason="a top-up refunded to the wallet")

    destination = _refund_destination(
        order, to_wallet=to_wallet, amount_cents=amount_cents, idempotency_key=ledger_key
    )
    legs: list[tuple[LedgerAccount, int]]
    if order.kind == OrderKind.WALLET_TOPUP:
        assert order.subscriber is not None  # noqa: S101
        legs = [(ledger.wallet_for(order.subscriber), -amount_cents), (destination, amount_cents)]
    else:
        tax_share = _round_share(amount_cents, order.tax_cents, order.total_cents)
        revenue = "revenue:addons" if order.kind == OrderKind.ADDON else "revenue:plans"
        legs = [(destination, amount_cents)]
        if amount_cents - tax_share:
            legs.append((ledger.system_account(revenue), -(amount_cents - tax_share)))
        if tax_share:
            legs.append((ledger.system_account("liability:sales_tax"), -tax_share))
    try:
        ledger.post_transaction(
            kind=TransactionKind.REFUND,
            entries=legs,
            memo=f"refund {order.number}: {reason}"[:200],
            idempotency_key=ledger_key,
            reference=order.number,
        )
    except InsufficientFunds:
        raise errors.RefundRefused(order=order.pk, reason="wallet already spent") from None
    order.refunded_cents = order.refunded_cents + amount_cents
    order.state = OrderState.REFUNDED
    if order.refunded_cents == order.total_cents:
        order.closed_at = now
    order.save(update_fields=["refunded_cents", "state", "closed_at"])
    record_audit(
        "order.refunded",
        actor=acting_user,
        target=order,
        amount_cents=amount_cents,
        to_wallet=to_wallet,
        reason=reason[:200],
    )
    _partner_event(order, "order.refunded")
    if order.subscriber is not None:
        notify.enqueue(
            "order.refunded",
            recipient=order.subscriber.user,
            line=order.line,
            context={
                "order_id": order.pk,
                "order_number": order.number,
                "amount_cents": amount_cents,
                "to_wallet": to_wallet,
            },
            dedupe_key=f"order.refunded:{ledger_key}",
            channels=("email",),
            now=now,
        )
    return order


def _refund_destination(
    order: Order, *, to_wallet: bool, amount_cents: int, idempotency_key: str
) -> LedgerAccount:
    if to_wallet or order.payment_method == PaymentMethod.WALLET:
        if order.subscriber is None:
            raise errors.RefundRefused(order=order.pk, reason="no subscriber wallet")
        return ledger.wallet_for(order.subscriber)
    if order.payment_method == PaymentMethod.CASH:
        # The clerk pays the cash out of the drawer; payable:refunds holds it until then.
        return ledger.system_account("payable:refunds")
    if order.payment_method == PaymentMethod.RESELLER_FLOAT:
        return ledger.reseller_float(order.reseller_ref)
    provider = PROVIDER_BY_METHOD.get(order.payment_method)
    payment = order.payments.filter(status=PaymentStatus.SUCCEEDED, provider=provider).first()
    if provider is None or payment is None:
        raise errors.RefundRefused(order=order.pk, reason="no provider payment")
    adapter = importlib.import_module(f"simcare.orders.services.{_adapter_module(provider)}")
    # The provider refunds first (with our key, so a retry after a crash refunds once);
    # the ledger follows in this transaction.
    adapter.refund_payment(payment, amount_cents, idempotency_key=idempotency_key)
    Payment.objects.filter(pk=payment.pk).update(refunded_cents=F("refunded_cents") + amount_cents)
    return ledger.system_account(f"clearing:{provider}")


def renew(
    line: Line,
    *,
    channel: str,
    payment_method: str,
    idempotency_key: str,
    acting_user: User | None,
    plan: Plan | None = None,
    coupon_code: str = "",
    periods: int = 1,
    now: dt.datetime | None = None,
) -> Order:
    """Renew a line on its plan (or another, at renewal) from any channel.

    Active: the new period runs from period_end; grace or suspended: from now
    (a suspended line also pays the plan's reactivation fee). The old period's
    reminders are cancelled by lines.services.renew_line_period.
    """
    return place_order(
        kind=OrderKind.RENEWAL,
        channel=channel,
        subscriber=line.subscriber,
        payment_method=payment_method,
        idempotency_key=idempotency_key,
        acting_user=acting_user,
        plan=plan or line.plan,
        line=line,
        periods=periods,
        coupon_code=coupon_code,
        now=now,
    )
