"""The subscriber's money over the API: wallet, orders, renewals, voucher redemption."""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from ninja import Field, Router, Schema
from ninja.pagination import PageNumberPagination, paginate

from simcare.accounts.api import api_user, client_ip, subscriber_auth
from simcare.accounts.models import Subscriber
from simcare.kit.api import problem_responses
from simcare.kit.money import CURRENCY
from simcare.ledger import queries as ledger_queries
from simcare.orders import queries
from simcare.orders.models import Order, Receipt

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
            receipt = order.receipt
        except Receipt.DoesNotExist:
            return None
        try:
            return reverse("orders:receipt", kwargs={"receipt_id": receipt.pk})
        except NoReverseMatch:  # the receipt page is not installed
            return None


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
    # services.vouchers lands with the vouchers work; imported by name until then.
    vouchers = importlib.import_module("simcare.orders.services.vouchers")
    vouchers.redeem_voucher(
        user.subscriber, payload.pin, ip_address=client_ip(request), acting_user=user
    )
    return _wallet(user.subscriber)
