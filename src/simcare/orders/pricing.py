"""What an order costs: items, coupon discount, promotion, sales tax (pure rules, no I/O).

The services read the catalog, the coupon and the customer's history, pass them
in as plain values, and store the Quote on the order; so the same inputs always
give the same price, and a later catalog change never alters a sold order.

Coupons: one per order, never on a wallet top-up (stored value is not a sale);
percent off rounds half up to the cent; a discount never exceeds the subtotal.
Tax applies to the subtotal after the discount.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from simcare.orders.tax import TaxLine, taxes_for

# Why a coupon was refused; each has a translated message in orders/errors.py.
COUPON_INACTIVE = "inactive"
COUPON_NOT_YET_VALID = "not_yet_valid"
COUPON_EXPIRED = "expired"
COUPON_MINIMUM_SPEND = "minimum_spend"
COUPON_EXHAUSTED = "exhausted"
COUPON_CUSTOMER_LIMIT = "customer_limit"
COUPON_FIRST_ORDER_ONLY = "first_order_only"
COUPON_NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class PricedItem:
    kind: str  # ItemKind value: plan, addon, topup, fee
    code: str
    description: str
    quantity: int
    unit_price_cents: int

    @property
    def amount_cents(self) -> int:
        return self.quantity * self.unit_price_cents


@dataclass(frozen=True)
class CouponTerms:
    code: str
    kind: str  # "percent" | "fixed"
    percent_off: int | None
    amount_off_cents: int | None
    minimum_spend_cents: int
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    max_uses_total: int | None
    max_uses_per_customer: int | None
    plan_codes: frozenset[str]
    channels: frozenset[str]
    first_order_only: bool
    is_active: bool
    times_used: int


@dataclass(frozen=True)
class CouponUseContext:
    now: dt.datetime
    order_kind: str
    channel: str
    plan_code: str
    subtotal_cents: int
    customer_uses: int
    customer_has_earlier_orders: bool


@dataclass(frozen=True)
class PromotionTerms:
    promotion_id: int
    kind: str
    minimum_periods: int
    plan_codes: frozenset[str]
    channels: frozenset[str]
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    is_active: bool


@dataclass(frozen=True)
class Quote:
    items: tuple[PricedItem, ...]
    subtotal_cents: int
    discount_cents: int
    taxes: tuple[TaxLine, ...]
    coupon_code: str = ""
    promotion_id: int | None = None
    taxed: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def taxable_cents(self) -> int:
        return self.subtotal_cents - self.discount_cents

    @property
    def tax_cents(self) -> int:
        return sum(line.amount_cents for line in self.taxes)

    @property
    def total_cents(self) -> int:
        return self.taxable_cents + self.tax_cents


def coupon_refusal(terms: CouponTerms, context: CouponUseContext) -> str | None:
    """Why this coupon cannot be used on this order, or None when it can (first reason wins)."""
    now = context.now
    checks = (
        (not terms.is_active, COUPON_INACTIVE),
        (terms.valid_from is not None and now < terms.valid_from, COUPON_NOT_YET_VALID),
        (terms.valid_until is not None and now >= terms.valid_until, COUPON_EXPIRED),
        (context.order_kind == "wallet_topup", COUPON_NOT_APPLICABLE),
        (bool(terms.channels) and context.channel not in terms.channels, COUPON_NOT_APPLICABLE),
        (
            bool(terms.plan_codes) and context.plan_code not in terms.plan_codes,
            COUPON_NOT_APPLICABLE,
        ),
        (context.subtotal_cents < terms.minimum_spend_cents, COUPON_MINIMUM_SPEND),
        (
            terms.max_uses_total is not None and terms.times_used >= terms.max_uses_total,
            COUPON_EXHAUSTED,
        ),
        (
            terms.max_uses_per_customer is not None
            and context.customer_uses >= terms.max_uses_per_customer,
            COUPON_CUSTOMER_LIMIT,
        ),
        (terms.first_order_only and context.customer_has_earlier_orders, COUPON_FIRST_ORDER_ONLY),
    )
    return next((reason for refused, reason in checks if refused), None)


def coupon_discount(terms: CouponTerms, subtotal_cents: int) -> int:
    """The discount in cents, never more than the subtotal."""
    if terms.kind == "percent":
        percent = terms.percent_off or 0
        discount = int(
            (Decimal(subtotal_cents) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        )
    else:
        discount = terms.amount_off_cents or 0
    return max(0, min(discount, subtotal_cents))


def promotion_applies(
    terms: PromotionTerms,
    *,
    now: dt.datetime,
    order_kind: str,
    channel: str,
    plan_code: str,
    periods: int,
) -> bool:
    """Whether an automatic promotion rewards this order (renewing several periods ahead)."""
    if not terms.is_active or order_kind != "renewal":
        return False
    if terms.valid_from is not None and now < terms.valid_from:
        return False
    if terms.valid_until is not None and now >= terms.valid_until:
        return False
    if terms.channels and channel not in terms.channels:
        return False
    if terms.plan_codes and plan_code not in terms.plan_codes:
        return False
    return periods >= terms.minimum_periods


def price(
    items: Sequence[PricedItem],
    *,
    province: str,
    tax_rates: Mapping[str, Sequence[Sequence[str]]],
    coupon: CouponTerms | None = None,
    discount_cents: int = 0,
    promotion_id: int | None = None,
    taxed: bool = True,
) -> Quote:
    """The quote for items with an already-accepted coupon (see coupon_refusal) and tax."""
    subtotal = sum(item.amount_cents for item in items)
    discount = coupon_discount(coupon, subtotal) if coupon is not None else discount_cents
    discount = max(0, min(discount, subtotal))
    taxes = tuple(taxes_for(subtotal - discount, province, tax_rates)) if taxed else ()
    return Quote(
        items=tuple(items),
        subtotal_cents=subtotal,
        discount_cents=discount,
        taxes=taxes,
        coupon_code=coupon.code if coupon is not None else "",
        promotion_id=promotion_id,
        taxed=taxed,
    )
