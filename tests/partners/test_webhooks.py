"""Signed webhooks: written with the order's change, delivered by the `webhooks` job to a
receiver on 127.0.0.1 that checks every signature, retried with backoff after 500s."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from simcare.catalog.models import Plan
from simcare.lines.models import Line
from simcare.orders.models import Order, OrderKind, OrderState, PaymentMethod, SalesChannel
from simcare.orders.services import ordering
from simcare.partners import services
from simcare.partners.models import DeliveryStatus, Reseller, WebhookAttempt, WebhookEvent
from tests.api.conftest import ApiClient
from tests.partners.conftest import fund

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings: Any) -> None:
    """The receivers here listen on 127.0.0.1, which deliveries refuse by default
    (tests/partners/test_webhook_addresses.py)."""
    settings.SIMCARE_WEBHOOK_ALLOW_PRIVATE = True


@dataclass
class Receiver:
    """A reseller's endpoint: answers the next queued statuses (then 200), checks signatures."""

    secret: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, object]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            header = self.headers.get("Simcare-Signature", "")
            state.received.append(
                {
                    "valid": services.verify_signature(state.secret, body, header),
                    "header": header,
                    "event": self.headers.get("Simcare-Event"),
                    "body": json.loads(body),
                }
            )
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/simcare"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def hooked(reseller: Reseller, receiver: Receiver) -> Reseller:
    reseller.webhook_url = receiver.url
    reseller.save(update_fields=["webhook_url"])
    receiver.secret = reseller.webhook_secret
    return reseller


def _renew(api: ApiClient, line: Line, plan: Plan, number: str = "W-1") -> dict[str, object]:
    response = api.post(
        "/api/v1/orders",
        {
            "external_order_no": number,
            "kind": "renewal",
            "msisdn": line.msisdn,
            "plan_code": plan.code,
        },
    )
    assert response.status_code == 201, response.content
    body: dict[str, object] = response.json()
    return body


def test_a_fulfilled_order_is_delivered_signed_after_two_500s_on_the_backoff_schedule(
    hooked: Reseller,
    reseller_api: ApiClient,
    receiver: Receiver,
    plan: Plan,
    line: Line,
) -> None:
    fund(hooked, 10_000)
    receiver.statuses = [500, 500]
    with time_machine.travel(START, tick=False) as clock:
        order = _renew(reseller_api, line, plan)
        delivery = WebhookEvent.objects.get()
        assert delivery.event == "order.fulfilled"
        assert delivery.next_attempt_at == START

        call_command("jobs", "run", "webhooks")  # first try: 500
        clock.move_to(START + dt.timedelta(seconds=59))
        call_command("jobs", "run", "webhooks")  # not due yet
        clock.move_to(START + dt.timedelta(minutes=1))
        call_command("jobs", "run", "webhooks")  # second try: 500
        clock.move_to(START + dt.timedelta(minutes=5, seconds=59))
        services.deliver_due_webhooks()  # not due: 5 minutes after the second try
        clock.move_to(START + dt.timedelta(minutes=6))
        services.deliver_due_webhooks()  # third try: 200
        services.deliver_due_webhooks()  # nothing left

    attempts = list(WebhookAttempt.objects.order_by("attempted_at"))
    assert [attempt.attempted_at - START for attempt in attempts] == [
        dt.timedelta(0),
        dt.timedelta(minutes=1),
        dt.timedelta(minutes=6),
    ]
    assert [attempt.status_code for attempt in attempts] == [500, 500, 200]
    assert len(receiver.received) == 3
    assert all(delivery["valid"] for delivery in receiver.received)
    first = receiver.received[0]["body"]
    assert isinstance(first, dict)
    assert first["type"] == "order.fulfilled"
    assert first["data"]["order"]["id"] == order["id"]
    assert first["data"]["order"]["external_order_no"] == "W-1"
    assert receiver.received[2]["header"].startswith(
        f"t={int((START + dt.timedelta(minutes=6)).timestamp())},v1="
    )
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 3
    # the reseller sees the log too
    log = reseller_api.get("/api/v1/webhooks/deliveries").json()["items"]
    assert [attempt["status_code"] for attempt in log[0]["attempt_log"]] == [500, 500, 200]


def test_a_receiver_that_never_answers_2xx_is_given_up_after_24_hours(
    hooked: Reseller,
    reseller_api: ApiClient,
    receiver: Receiver,
    plan: Plan,
    line: Line,
) -> None:
    fund(hooked, 10_000)
    receiver.statuses = [503] * 50
    with time_machine.travel(START, tick=False) as clock:
        _renew(reseller_api, line, plan)
        for minutes in range(0, 25 * 60, 1):
            clock.move_to(START + dt.timedelta(minutes=minutes))
            if WebhookEvent.objects.filter(
                status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now()
            ).exists():
                services.deliver_due_webhooks()

    delivery = WebhookEvent.objects.get()
    offsets = [
        attempt.attempted_at - START for attempt in WebhookAttempt.objects.order_by("attempted_at")
    ]
    assert delivery.status == DeliveryStatus.ABANDONED
    assert offsets == [
        dt.timedelta(0),
        dt.timedelta(minutes=1),
        dt.timedelta(minutes=6),
        dt.timedelta(minutes=36),
        dt.timedelta(hours=2, minutes=36),
        dt.timedelta(hours=8, minutes=36),
        dt.timedelta(hours=20, minutes=36),
    ]
    assert all(delivery["valid"] for delivery in receiver.received)


def test_an_unreachable_receiver_is_logged_with_its_error(
    hooked: Reseller,
    reseller_api: ApiClient,
    plan: Plan,
    line: Line,
) -> None:
    fund(hooked, 10_000)
    hooked.webhook_url = "http://127.0.0.1:9/closed"
    hooked.save(update_fields=["webhook_url"])
    _renew(reseller_api, line, plan)

    summary = services.deliver_due_webhooks()

    attempt = WebhookAttempt.objects.get()
    assert summary["retrying"] == 1
    assert attempt.status_code is None
    assert "Connection" in attempt.error or "refused" in attempt.error


def test_refunds_and_failures_are_events_too(
    hooked: Reseller,
    reseller_api: ApiClient,
    receiver: Receiver,
    plan: Plan,
    line: Line,
) -> None:
    fund(hooked, 10_000)
    placed = _renew(reseller_api, line, plan)
    order = Order.objects.get(pk=placed["id"])
    ordering.refund_order(
        order,
        amount_cents=1000,
        to_wallet=False,
        acting_user=None,
        reason="customer changed their mind",
        idempotency_key="r1",
    )
    # A pending reseller order (as a later asynchronous flow would leave one) that fails.
    pending = Order.objects.create(
        kind=OrderKind.RENEWAL,
        channel=SalesChannel.RESELLER,
        state=OrderState.PENDING,
        subscriber=line.subscriber,
        line=line,
        plan=plan,
        payment_method=PaymentMethod.RESELLER_FLOAT,
        idempotency_key="pending-1",
        reseller_ref=hooked.slug,
    )
    ordering.fail_order(pending, code="provisioning_failed")

    services.deliver_due_webhooks()

    events = [delivery["event"] for delivery in receiver.received]
    assert sorted(events) == ["order.failed", "order.fulfilled", "order.refunded"]
    refunded = next(d["body"] for d in receiver.received if d["event"] == "order.refunded")
    assert isinstance(refunded, dict)
    assert refunded["data"]["order"]["refunded_cents"] == 1000
    assert services.float_balance_cents(hooked) == 10_000 - 3955 + 1000
    assert all(delivery["valid"] for delivery in receiver.received)


def test_a_signature_is_an_hmac_of_the_timestamp_and_body() -> None:
    header = services.signature("whsec_test", b'{"a":1}', 1_700_000_000)

    assert header.startswith("t=1700000000,v1=")
    assert services.verify_signature("whsec_test", b'{"a":1}', header)
    assert not services.verify_signature("whsec_other", b'{"a":1}', header)
    assert not services.verify_signature("whsec_test", b'{"a":2}', header)
    assert not services.verify_signature("whsec_test", b'{"a":1}', "garbage")


def test_orders_without_a_webhook_url_queue_nothing(
    reseller: Reseller,
    reseller_api: ApiClient,
    plan: Plan,
    line: Line,
) -> None:
    fund(reseller, 10_000)

    _renew(reseller_api, line, plan)

    assert not WebhookEvent.objects.exists()
