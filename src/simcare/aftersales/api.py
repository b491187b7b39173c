"""Subscriber API of returns: a router of the project's API (simcare/api.py), under /api/v1/me/.

- `GET /me/orders/{order_id}/return-evaluation?kind=` no_reason, quality or wrong_item:
  the policy's verdict `{"kind", "eligible", "outcomes", "window_days", "day", "deadline",
  "reasons": [{"code", "passed", "params", "message"}]}`
- `POST /me/returns` `{"order_id", "kind", "resolution"?, "fault"?, "refund_to_wallet"?,
  "description"?}` with an `Idempotency-Key` header: 201 and the request; the same key
  again: 200 and the same request
- `GET /me/returns`: own requests, newest first
- `GET /me/returns/{return_id}`: one own request; another subscriber's is 404

Refusals are problem+json with a stable `code` (the API's handlers render them).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.params.functions import Header
from ninja.responses import Status

from simcare.accounts.api import api_user, subscriber_auth
from simcare.accounts.models import Subscriber, User
from simcare.aftersales import policy, queries, services
from simcare.aftersales.models import ReturnRequest
from simcare.kit.api import problem_responses
from simcare.kit.problems import NotFound
from simcare.orders.models import Order

router = Router(tags=["returns"], auth=subscriber_auth)

ReturnKindIn = Literal["no_reason", "quality", "wrong_item"]


class ReasonOut(Schema):
    code: str
    passed: bool
    params: dict[str, Any]
    message: str


class EvaluationOut(Schema):
    kind: str
    eligible: bool
    outcomes: list[str]
    window_days: int
    day: int | None
    deadline: dt.datetime | None
    reasons: list[ReasonOut]


class ReturnIn(Schema):
    order_id: int = Field(ge=1, le=2**62)
    kind: ReturnKindIn
    resolution: Literal["", "refund", "replacement"] = ""
    fault: Literal["", "no_network", "damaged", "esim_install"] = ""
    refund_to_wallet: bool = False
    description: str = Field("", max_length=2000)


class StepOut(Schema):
    state: str
    at: dt.datetime


class ReturnOut(Schema):
    id: int
    number: str
    order_id: int
    msisdn: str | None
    kind: str
    resolution: str
    state: str
    eligible: bool
    reasons: list[ReasonOut]
    refund_cents: int
    refund_to_wallet: bool
    old_iccid: str
    new_iccid: str
    created_at: dt.datetime
    steps: list[StepOut]


def _subscriber(user: User) -> Subscriber:
    try:
        return user.subscriber
    except Subscriber.DoesNotExist:
        raise NotFound() from None


def _own_order(user: User, order_id: int) -> Order:
    try:
        return queries.own_order(_subscriber(user), order_id)
    except Order.DoesNotExist:
        raise NotFound() from None


def _evaluation(evaluation: policy.Evaluation) -> dict[str, Any]:
    return {
        "kind": evaluation.kind,
        "eligible": evaluation.eligible,
        "outcomes": list(evaluation.outcomes),
        "window_days": evaluation.window_days,
        "day": evaluation.day,
        "deadline": evaluation.deadline,
        "reasons": [reason.as_dict() for reason in evaluation.reasons],
    }


def _out(rma: ReturnRequest) -> dict[str, Any]:
    return {
        "id": rma.pk,
        "number": rma.number,
        "order_id": rma.order_id,
        "msisdn": rma.line.msisdn if rma.line is not None else None,
        "kind": rma.kind,
        "resolution": rma.resolution,
        "state": rma.state,
        "eligible": rma.is_eligible,
        "reasons": [policy.Reason.from_dict(item).as_dict() for item in rma.evaluation],
        "refund_cents": rma.refund_cents,
        "refund_to_wallet": rma.refund_to_wallet,
        "old_iccid": rma.old_iccid,
        "new_iccid": rma.new_iccid,
        "created_at": rma.created_at,
        "steps": [{"state": event.to_state, "at": event.created_at} for event in rma.events.all()],
    }


@router.get(
    "/orders/{order_id}/return-evaluation",
    response={200: EvaluationOut, **problem_responses(401, 404, 422)},
    summary="Would a return or exchange of this order be within the policy?",
    operation_id="evaluate_my_return",
)
def evaluate_my_return(request: HttpRequest, order_id: int, kind: ReturnKindIn) -> Any:
    order = _own_order(api_user(request), order_id)
    return _evaluation(services.evaluate_order(order, kind))


@router.post(
    "/returns",
    response={200: ReturnOut, 201: ReturnOut, **problem_responses(400, 401, 404, 409, 422)},
    summary="Ask for a return or an exchange of my order",
    description=(
        "Idempotent on the Idempotency-Key header: the first request files it (201); the same "
        "key again returns that request (200); for another order or kind it is a 409."
    ),
    operation_id="file_my_return",
)
def file_my_return(
    request: HttpRequest,
    payload: ReturnIn,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=120,
            description="Your unique key for this request (1 to 120 characters)",
        ),
    ],
) -> Status[dict[str, Any]]:
    user = api_user(request)
    subscriber = _subscriber(user)
    order = _own_order(user, payload.order_id)
    scoped = f"user:{user.pk}:api:{idempotency_key}"
    existed = ReturnRequest.objects.filter(idempotency_key=scoped).exists()
    rma = services.submit_return(
        subscriber,
        order,
        kind=payload.kind,
        resolution=payload.resolution,
        fault=payload.fault,
        refund_to_wallet=payload.refund_to_wallet,
        description=payload.description,
        idempotency_key=scoped,
        acting_user=user,
    )
    return Status(200 if existed else 201, _out(rma))


@router.get(
    "/returns",
    response={200: list[ReturnOut], **problem_responses(401)},
    summary="My return and exchange requests, newest first",
    operation_id="list_my_returns",
)
def list_my_returns(request: HttpRequest) -> Any:
    user = api_user(request)
    subscriber = _subscriber(user)
    requests = queries.returns_for(user).filter(subscriber=subscriber).prefetch_related("events")
    return [_out(rma) for rma in requests[:200]]


@router.get(
    "/returns/{return_id}",
    response={200: ReturnOut, **problem_responses(401, 404)},
    summary="One of my return requests",
    operation_id="get_my_return",
)
def get_my_return(request: HttpRequest, return_id: int) -> Any:
    user = api_user(request)
    try:
        rma = queries.returns_for(user).get(pk=return_id, subscriber=_subscriber(user))
    except ReturnRequest.DoesNotExist:
        raise NotFound() from None
    return _out(rma)
