"""The subscriber API of returns, through /api/v1/ with a bearer token."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import time_machine

from simcare.accounts.models import Subscriber
from simcare.aftersales.models import ReturnRequest
from simcare.orders.models import Order
from tests.aftersales.conftest import DELIVERED
from tests.api.conftest import ApiClient, issue_token

BuySim = Callable[..., Order]
DAY = dt.timedelta(days=1)


def client_of(subscriber: Subscriber) -> ApiClient:
    return ApiClient(issue_token(subscriber.user.username))


def test_evaluation_then_request_then_list(subscriber: Subscriber, buy_sim: BuySim) -> None:
    order = buy_sim(subscriber)
    api = client_of(subscriber)
    body = {"order_id": order.pk, "kind": "no_reason", "refund_to_wallet": True}

    with time_machine.travel(DELIVERED + 7 * DAY, tick=False):
        evaluation = api.get(f"/api/v1/me/orders/{order.pk}/return-evaluation?kind=no_reason")
        created = api.post("/api/v1/me/returns", body, **{"Idempotency-Key": "r-1"})
        again = api.post("/api/v1/me/returns", body, **{"Idempotency-Key": "r-1"})

    assert evaluation.status_code == 200
    verdict = evaluation.json()
    assert (verdict["eligible"], verdict["day"], verdict["window_days"], verdict["outcomes"]) == (
        True,
        7,
        7,
        ["refund"],
    )
    window = next(reason for reason in verdict["reasons"] if reason["code"] == "outside_window")
    assert window == {
        "code": "outside_window",
        "passed": True,
        "params": {"day": 7, "days": 7, "from": "delivery"},
        "message": "Within 7 days of delivery (day 7).",
    }
    assert created.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == created.json()["id"]
    assert created.json()["state"] == "requested"
    assert [step["state"] for step in created.json()["steps"]] == ["requested"]
    assert ReturnRequest.objects.count() == 1
    listing = api.get("/api/v1/me/returns")
    assert [item["number"] for item in listing.json()] == [created.json()["number"]]
    assert api.get(f"/api/v1/me/returns/{created.json()['id']}").status_code == 200


def test_refusals_are_problem_json(subscriber: Subscriber, buy_sim: BuySim) -> None:
    order = buy_sim(subscriber)
    api = client_of(subscriber)

    bad_kind = api.get(f"/api/v1/me/orders/{order.pk}/return-evaluation?kind=nope")
    no_key = api.post("/api/v1/me/returns", {"order_id": order.pk, "kind": "quality"})
    no_fault = api.post(
        "/api/v1/me/returns",
        {"order_id": order.pk, "kind": "quality"},
        **{"Idempotency-Key": "x"},
    )
    french = ApiClient(issue_token(subscriber.user.username), language="fr").post(
        "/api/v1/me/returns", {"order_id": order.pk, "kind": "quality"}, **{"Idempotency-Key": "y"}
    )

    assert (bad_kind.status_code, bad_kind["Content-Type"]) == (422, "application/problem+json")
    assert bad_kind.json()["code"] == "validation_error"
    assert (no_key.status_code, no_key.json()["code"]) == (422, "validation_error")
    assert (no_fault.status_code, no_fault.json()["code"]) == (422, "return_invalid")
    assert no_fault.json()["detail"] == "Tell us what is wrong with the card."
    assert french.json()["detail"] == "Dites-nous quel est le problème de la carte."
    assert not ReturnRequest.objects.exists()


def test_another_subscribers_order_and_request_are_404(
    subscriber: Subscriber, make_subscriber: Callable[..., Subscriber], buy_sim: BuySim
) -> None:
    order = buy_sim(subscriber)
    owner = client_of(subscriber)
    created = owner.post(
        "/api/v1/me/returns",
        {"order_id": order.pk, "kind": "quality", "fault": "damaged"},
        **{"Idempotency-Key": "a"},
    ).json()
    stranger = client_of(make_subscriber())

    assert stranger.get(f"/api/v1/me/returns/{created['id']}").status_code == 404
    evaluation = stranger.get(f"/api/v1/me/orders/{order.pk}/return-evaluation?kind=quality")
    assert evaluation.status_code == 404
    posted = stranger.post(
        "/api/v1/me/returns",
        {"order_id": order.pk, "kind": "quality", "fault": "damaged"},
        **{"Idempotency-Key": "a"},
    )
    assert (posted.status_code, posted.json()["code"]) == (404, "not_found")
    assert stranger.get("/api/v1/me/returns").json() == []
    assert ApiClient().get("/api/v1/me/returns").status_code == 401
    assert ReturnRequest.objects.count() == 1
