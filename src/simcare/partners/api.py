"""The reseller API (60-partners.md): plans at wholesale, orders on the float, line checks,
the float, monthly statements and the webhook delivery log.

Authentication is ResellerKeyAuth: `Authorization: Bearer rsk_…`, a key of an
active reseller, rate-limited per key (429 with Retry-After). A subscriber's
token is not a reseller key and the reverse. Another reseller's order is 404.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from ninja import Field, Router, Schema
from ninja.pagination import PageNumberPagination, paginate
from ninja.params.functions import Query as QueryParam
from ninja.responses import Status
from ninja.security import HttpBearer

from simcare.catalog import queries as catalog_queries
from simcare.kit.api import problem_responses
from simcare.kit.money import CURRENCY
from simcare.kit.problems import NotFound
from simcare.lines import esim
from simcare.lines.errors import NotAnEsim
from simcare.orders.models import Order
from simcare.partners import batching, services
from simcare.partners.models import Reseller, ResellerApiKey, WebhookEvent

Row = TypeVar("Row", bound=Model)
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class ResellerKeyAuth(HttpBearer):
    """A reseller's API key; over the key's rate → 429 too_many_requests."""

    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> ResellerApiKey | None:
        key = services.key_for_token(token, cached=True)
        if key is None:
            return None
        services.check_rate_limit(key)
        return key


reseller_auth = ResellerKeyAuth()


def api_reseller(request: HttpRequest) -> Reseller:
    key: ResellerApiKey = request.auth  # type: ignore[attr-defined]
    return key.reseller


router = Router(tags=["reseller"], auth=reseller_auth)


class PlanOut(Schema):
    code: str
    name: str
    validity_days: int
    data_mb: int | None
    voice_minutes: int | None
    sms_messages: int | None
    currency: str
    retail_price_cents: int
    wholesale_price_cents: int


@router.get(
    "/plans",
    response={200: list[PlanOut], **problem_responses(401, 429)},
    summary="Plans on sale, with retail and your wholesale price",
    operation_id="reseller_list_plans",
    url_name="reseller_list_plans",
)
def list_plans(request: HttpRequest) -> list[dict[str, Any]]:
    reseller = api_reseller(request)
    prices = services.wholesale_prices(reseller)
    language = getattr(request, "LANGUAGE_CODE", "en")
    return [
        {
            "code": plan.code,
            "name": plan.translated("name", language),
            "validity_days": plan.validity_days,
            "data_mb": plan.data_mb,
            "voice_minutes": plan.voice_minutes,
            "sms_messages": plan.sms_messages,
            "currency": CURRENCY,
            "retail_price_cents": plan.price_cents,
            "wholesale_price_cents": prices.get(plan.pk, plan.price_cents),
        }
        for plan in catalog_queries.plans_on_sale()
    ]


class CustomerIn(Schema):
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=32)
    language: Literal["zh-hans", "en", "fr"] | None = None


class OrderIn(Schema):
    external_order_no: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[\x21-\x7e]+$",
        description="Your own order number: the same number again returns the same order",
    )
    kind: Literal["renewal", "addon", "new_esim"]
    msisdn: str | None = Field(
        None, max_length=32, description="The line to renew or add to (renewal, addon)"
    )
    plan_code: str = Field(
        min_length=1, max_length=40, description="The plan (renewal, new_esim) or add-on code"
    )
    customer: CustomerIn | None = Field(None, description="For new_esim: the eSIM's owner")


class EsimOut(Schema):
    activation_code: str
    qr_url: str


class ResellerOrderOut(Schema):
    id: int
    number: str
    external_order_no: str
    kind: str
    state: str
    plan_code: str | None
    addon_code: str | None
    msisdn: str | None
    currency: str
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    refunded_cents: int
    created_at: dt.datetime
    fulfilled_at: dt.datetime | None
    esim: EsimOut | None


@router.post(
    "/orders",
    response={
        200: ResellerOrderOut,
        201: ResellerOrderOut,
        **problem_responses(400, 401, 409, 422, 429, 503),
    },
    summary="Place an order paid from your float",
    description=(
        "Fulfilled at once and paid from the float at your wholesale price. The same "
        "external_order_no with the same body returns that order again (200); with another "
        "body it is refused (409 idempotency_conflict). A float too low: 422 insufficient_float, "
        "and nothing changes."
    ),
    operation_id="reseller_place_order",
    url_name="reseller_place_order",
)
def place_order(request: HttpRequest, payload: OrderIn) -> Status[dict[str, Any]]:
    reseller = api_reseller(request)
    customer = payload.customer or CustomerIn(email=None, phone=None, language=None)
    # Renewals and add-ons are placed in a batch with other requests' (partners/batching.py);
    # a number placed before comes back as the database has it now.
    order, created = batching.place(
        batching.OrderRequest(
            reseller=reseller,
            external_order_no=payload.external_order_no,
            kind=payload.kind,
            plan_code=payload.plan_code,
            msisdn=payload.msisdn,
            customer=services.Customer(
                email=customer.email or "",
                phone=customer.phone or "",
                language=customer.language or "",
            ),
            language=translation.get_language() or "en",
        )
    )
    return Status(201 if created else 200, services.order_document(order))


class Mapped(Generic[Row]):
    """A queryset the paginator slices and counts in the database, each row of the page only
    then turned into its document (rather than every row of the reseller's history)."""

    def __init__(self, rows: QuerySet[Row], document: Callable[[Row], dict[str, Any]]) -> None:
        self.rows = rows
        self.document = document

    def __len__(self) -> int:
        return self.rows.count()

    def __getitem__(self, page: slice) -> list[dict[str, Any]]:
        return [self.document(row) for row in self.rows[page]]


class OrderPage(PageNumberPagination):
    class Input(Schema):
        page: int = Field(1, ge=1, le=100_000)
        page_size: int | None = Field(None, ge=1, le=100)


@router.get(
    "/orders",
    response={200: list[ResellerOrderOut], **problem_responses(401, 422, 429)},
    summary="Your orders, newest first; filter by your order number",
    operation_id="reseller_list_orders",
    url_name="reseller_list_orders",
)
@paginate(OrderPage, page_size=20, max_page_size=100)
def list_orders(
    request: HttpRequest,
    external_order_no: str | None = QueryParam(
        None, max_length=100, description="Your order number"
    ),
) -> Mapped[Order]:
    reseller = api_reseller(request)
    orders = services.orders_of(reseller).select_related(
        "plan", "addon", "line__sim", "reseller_order"
    )
    if external_order_no is not None:
        orders = orders.filter(reseller_order__external_order_no=external_order_no)
    return Mapped(orders.order_by("-created_at", "-id"), services.order_document)


def _order(request: HttpRequest, order_id: int) -> Order:
    try:
        return services.order_of(api_reseller(request), order_id)
    except Order.DoesNotExist:
        raise NotFound() from None


@router.get(
    "/orders/{order_id}",
    response={200: ResellerOrderOut, **problem_responses(401, 404, 422, 429)},
    summary="One of your orders",
    operation_id="reseller_get_order",
    url_name="reseller_get_order",
)
def get_order(request: HttpRequest, order_id: int) -> dict[str, Any]:
    return services.order_document(_order(request, order_id))


@router.get(
    "/orders/{order_id}/esim-qr.png",
    response={200: None, **problem_responses(401, 404, 422, 429)},
    summary="The QR code of a new_esim order's activation code (PNG)",
    operation_id="reseller_get_esim_qr",
    url_name="reseller_get_esim_qr",
    openapi_extra={
        "responses": {
            200: {
                "description": "PNG image",
                "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def get_esim_qr(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(request, order_id)
    details = services.esim_details(order)
    if details is None or order.line is None or order.line.sim is None:
        raise NotFound()
    try:
        code = esim.activation_code(order.line.sim)
    except NotAnEsim:
        raise NotFound() from None
    response = HttpResponse(esim.qr_png(code), content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    return response


class RenewableOut(Schema):
    renewable: bool
    plan_code: str | None


@router.get(
    "/lines/{msisdn}/renewable",
    response={200: RenewableOut, **problem_responses(401, 429)},
    summary="Whether a number can be renewed, and on which plan",
    description="Nothing else about the line: an unknown number is simply not renewable.",
    operation_id="reseller_line_renewable",
    url_name="reseller_line_renewable",
)
def line_renewable(request: HttpRequest, msisdn: str) -> dict[str, Any]:
    line = services.renewable_line(msisdn) if len(msisdn) <= 32 else None
    if line is None:
        return {"renewable": False, "plan_code": None}
    return {"renewable": True, "plan_code": line.plan.code}


class MovementOut(Schema):
    at: dt.datetime
    amount_cents: int
    kind: str
    reference: str


class FloatOut(Schema):
    balance_cents: int
    currency: str
    movements: list[MovementOut]


@router.get(
    "/float",
    response={200: FloatOut, **problem_responses(401, 429)},
    summary="Your float balance and its latest movements",
    operation_id="reseller_get_float",
    url_name="reseller_get_float",
)
def get_float(request: HttpRequest) -> dict[str, Any]:
    reseller = api_reseller(request)
    return {
        "balance_cents": services.float_balance_cents(reseller),
        "currency": CURRENCY,
        "movements": services.float_movements(reseller),
    }


@router.get(
    "/statements/{month}.csv",
    response={200: None, **problem_responses(401, 422, 429)},
    summary="The month's orders and amounts as CSV (month as YYYY-MM)",
    operation_id="reseller_get_statement",
    url_name="reseller_get_statement",
    openapi_extra={
        "parameters": [
            {
                "in": "path",
                "name": "month",
                "required": True,
                "schema": {"type": "string", "pattern": MONTH_PATTERN},
            }
        ],
        "responses": {
            200: {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}
        },
    },
)
def get_statement(request: HttpRequest, month: str) -> HttpResponse:
    reseller = api_reseller(request)
    body = services.statement_csv(reseller, month)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{reseller.slug}-{month}.csv"'
    return response


class AttemptOut(Schema):
    attempted_at: dt.datetime
    status_code: int | None
    duration_ms: int
    error: str


class DeliveryOut(Schema):
    id: str
    event: str
    order_id: int | None
    status: str
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    attempt_log: list[AttemptOut]


@router.get(
    "/webhooks/deliveries",
    response={200: list[DeliveryOut], **problem_responses(401, 422, 429)},
    summary="Your webhook deliveries and every attempt, newest first",
    operation_id="reseller_list_deliveries",
    url_name="reseller_list_deliveries",
)
@paginate(OrderPage, page_size=20, max_page_size=100)
def list_deliveries(request: HttpRequest) -> Mapped[WebhookEvent]:
    deliveries = services.deliveries_of(api_reseller(request)).order_by("-created_at")
    return Mapped(deliveries, _delivery_document)


def _delivery_document(delivery: WebhookEvent) -> dict[str, Any]:
    return {
        "id": str(delivery.pk),
        "event": delivery.event,
        "order_id": delivery.order_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "created_at": delivery.created_at,
        "next_attempt_at": delivery.next_attempt_at,
        "delivered_at": delivery.delivered_at,
        "attempt_log": [
            {
                "attempted_at": attempt.attempted_at,
                "status_code": attempt.status_code,
                "duration_ms": attempt.duration_ms,
                "error": attempt.error,
            }
            for attempt in delivery.attempt_log.all()
        ],
    }
