"""The subscriber's money over the API: wallet, orders, renewals, voucher redemption."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema
from ninja.pagination import PageNumberPagination, paginate
from ninja.params.functions import Header
from ninja.responses import Status

from simcare.accounts.api import api_user, client_ip, subscriber_auth
from simcare.accounts.models import Subscriber
from simcare.catalog import queries as catalog_queries
from simcare.kit.api import problem_responses
from simcare.kit.money import CURRENCY
from simcare.kit.phone import InvalidPhoneNumber, normalize_msisdn
from simcare.kit.problems import NotFound
from simcare.ledger import queries as ledger_queries
from simcare.lines import queries as line_queries
from simcare.orders import errors, queries
from simcare.orders.models import Order, PaymentMethod, Receipt, SalesChannel
from simcare.orders.services import ordering, vouchers

router = Router(tags=["money"], auth=subscriber_auth)


class WalletOut(Schema):
    balance_cents: int
    currency: str


class OrderOut(Schema):
    id: int
    number: str
    kind: str
    channel: str
    state: str
    plan_code: str | None
    addon_code: str | None
    msisdn: str | None
    currency: str
    subtotal_cents: int
    discount_cents: int
    tax_cents: int
    total_cents: int
    refunded_cents: int
    payment_method: str
    created_at: dt.datetime
    paid_at: dt.datetime | None
    fulfilled_at: dt.datetime | None
    receipt_url: str | None

    @staticmethod
    def resolve_plan_code(order: Order) -> str | None:
        return order.plan.code if order.plan is not None else None

    @staticmethod
    def resolve_addon_code(order: Order) -> str | None:
        return order.addon.code if order.addon is not None else None

    @staticmethod
    def resolve_msisdn(order: Order) -> str | None:
        return order.line.msisdn if order.line is not None else None

    @staticmethod
    def resolve_receipt_url(order: Order) -> str | None:
        try:
            order.receipt  # noqa: B018  # loaded with the order; absent until paid
        except Receipt.DoesNotExist:
            return None
        # The receipt page's address, as the order notifications give it (services.ordering).
        base = settings.SIMCARE_PUBLIC_BASE_URL.rstrip("/")
        return f"{base}/{order.language}/orders/{order.pk}/receipt/"


def _wallet(subscriber: Subscriber) -> dict[str, Any]:
    return {"balance_cents": ledger_queries.wallet_balance_cents(subscriber), "currency": CURRENCY}


@router.get(
    "/wallet",
    response={200: WalletOut, **problem_responses(401)},
    summary="My wallet balance",
    operation_id="get_my_wallet",
)
def get_my_wallet(request: HttpRequest) -> dict[str, Any]:
    return _wallet(api_user(request).subscriber)


class OrderPage(PageNumberPagination):
    class Input(Schema):
        page: int = Field(1, ge=1, le=100_000)
        page_size: int | None = Field(None, ge=1, le=100)


@router.get(
    "/orders",
    response={200: list[OrderOut], **problem_responses(401, 422)},
    summary="My orders, newest first",
    operation_id="list_my_orders",
)
@paginate(OrderPage, page_size=20, max_page_size=100)
def list_my_orders(request: HttpRequest) -> Any:
    return queries.orders_for(api_user(request)).select_related("receipt")


class RenewIn(Schema):
    plan_code: str = Field(min_length=1, max_length=40, description="The plan to renew on")
    payment: Literal["wallet"] = Field(description="How to pay: the wallet")
    coupon: str | None = Field(None, max_length=40, description="A coupon code")


@router.post(
    "/lines/{msisdn}/renew",
    response={200: OrderOut, 201: OrderOut, **problem_responses(400, 401, 404, 409, 422)},
    summary="Renew my line, paid from my wallet",
    description=(
        "Idempotent on the Idempotency-Key header: the first request places the order (201); "
        "the same key with the same body returns that order again (200) and charges nothing; "
        "the same key with another body is refused (409 idempotency_conflict)."
    ),
    operation_id="renew_my_line",
)
def renew_my_line(
    request: HttpRequest,
    msisdn: str,
    payload: RenewIn,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="Your unique key for this renewal (1 to 200 characters)",
        ),
    ],
) -> Status[Order]:
    user = api_user(request)
    try:
        line = line_queries.line_for(user, normalize_msisdn(msisdn))
    except InvalidPhoneNumber as error:
        raise NotFound() from error
    plan = catalog_queries.plan_by_code(payload.plan_code)
    if plan is None:
        raise errors.PlanUnavailable(plan=payload.plan_code)
    now = timezone.now()
    order = ordering.renew(
        line,
        channel=SalesChannel.WEB,
        payment_method=PaymentMethod(payload.payment),
        idempotency_key=f"user:{user.pk}:{idempotency_key}",
        acting_user=user,
        plan=plan,
        coupon_code=payload.coupon or "",
        now=now,
    )
    # A new order is created at `now`; a replay returns the order of an earlier request,
    # even one that raced this request and won.
    return Status(201 if order.created_at == now else 200, order)


class RedeemIn(Schema):
    pin: str = Field(min_length=1, max_length=64)


@router.post(
    "/vouchers/redeem",
    response={200: WalletOut, **problem_responses(400, 401, 422, 429)},
    summary="Redeem a voucher PIN into my wallet",
    operation_id="redeem_voucher",
)
def redeem_voucher(request: HttpRequest, payload: RedeemIn) -> dict[str, Any]:
    user = api_user(request)
    vouchers.redeem_voucher(
        user.subscriber, payload.pin, ip_address=client_ip(request), acting_user=user
    )
    return _wallet(user.subscriber)
