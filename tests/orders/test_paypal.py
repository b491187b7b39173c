"""PayPal payments (Orders v2), against the local PayPal stand-in (tests/orders/paypal_standin.py).

Webhooks are verified by the stand-in's verify-webhook-signature endpoint, as PayPal
verifies them for merchants.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from simcare.accounts.models import Role, Subscriber
from simcare.ledger.models import LedgerTransaction
from simcare.orders import errors
from simcare.orders.models import Order, OrderState, Payment, PaymentMethod, PaymentStatus
from simcare.orders.services import ordering, paypal
from tests.conftest import signed_in_client
from tests.orders.conftest import run_ledger_verify
from tests.orders.paypal_standin import PayPalStandIn

pytestmark = pytest.mark.django_db

WEBHOOK = "/payments/paypal/webhook"
RETURN = "https://simcare.test/en/orders/1/paypal/return/"
CANCEL = "https://simcare.test/en/orders/1/cancelled/"
MakeOrder = Callable[..., Order]


def post_webhook(headers: dict[str, str], payload: bytes) -> Any:
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    return Client().post(WEBHOOK, data=payload, content_type="application/json", **extra)


def approved_order(
    standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder, cents: int
) -> tuple[Order, Payment]:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.PAYPAL, amount_cents=cents)
    payment = paypal.start_checkout(order, return_url=RETURN, cancel_url=CANCEL)
    standin.approve(payment.provider_reference)
    return order, payment


# --- configuration ---------------------------------------------------------------------------


def test_without_credentials_paypal_is_not_configured_and_refused(
    paypal_standin: PayPalStandIn,
    settings: Any,
    subscriber: Subscriber,
    make_pending_order: MakeOrder,
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.PAYPAL)
    settings.SIMCARE_PAYPAL_CLIENT_ID = ""
    settings.SIMCARE_PAYPAL_CLIENT_SECRET = ""
    settings.SIMCARE_PAYPAL_WEBHOOK_ID = ""

    assert paypal.is_configured() is False
    with pytest.raises(errors.PaymentMethodUnavailable):
        paypal.start_checkout(order, return_url=RETURN, cancel_url=CANCEL)
    assert post_webhook({}, b"{}").status_code == 400


def test_all_three_settings_make_paypal_configured(settings: Any) -> None:
    settings.SIMCARE_PAYPAL_CLIENT_ID = "id"
    settings.SIMCARE_PAYPAL_CLIENT_SECRET = "secret"
    settings.SIMCARE_PAYPAL_WEBHOOK_ID = ""
    assert paypal.is_configured() is False
    settings.SIMCARE_PAYPAL_WEBHOOK_ID = "WH-1"
    assert paypal.is_configured() is True


# --- checkout ----------------------------------------------------------------------------------


def test_start_checkout_creates_a_cad_paypal_order_with_its_approve_link(
    paypal_standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.PAYPAL, amount_cents=3390)

    payment = paypal.start_checkout(order, return_url=RETURN, cancel_url=CANCEL)

    assert payment.method == PaymentMethod.PAYPAL
    assert payment.provider == "paypal"
    assert payment.status == PaymentStatus.PENDING
    assert payment.amount_cents == 3390
    assert payment.redirect_url == (
        f"https://www.paypal.test/checkoutnow?token={payment.provider_reference}"
    )
    [call] = paypal_standin.calls("POST", "/v2/checkout/orders")
    assert call.body["intent"] == "CAPTURE"
    assert call.body["purchase_units"][0]["amount"] == {"currency_code": "CAD", "value": "33.90"}
    assert call.body["purchase_units"][0]["custom_id"] == str(order.pk)
    context = call.body["payment_source"]["paypal"]["experience_context"]
    assert (context["return_url"], context["cancel_url"]) == (RETURN, CANCEL)
    assert call.headers["paypal-request-id"] == f"simcare-order-{order.pk}"


def test_start_checkout_twice_returns_the_same_payment(
    paypal_standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.PAYPAL)

    first = paypal.start_checkout(order, return_url=RETURN, cancel_url=CANCEL)
    second = paypal.start_checkout(order, return_url=RETURN, cancel_url=CANCEL)

    assert first.pk == second.pk
    assert len(paypal_standin.orders) == 1


def test_paypal_down_is_a_retryable_error_and_records_nothing(
    paypal_standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.PAYPAL)
    paypal_standin.failures.extend([503, 503])

    with pytest.raises(errors.PaymentProviderUnavailable):
        paypal.start_checkout(order, return_url=RETURN, cancel_url=CANCEL)
    assert Payment.objects.count() == 0


def test_wrong_credentials_are_refused_and_record_nothing(
    paypal_standin: PayPalStandIn,
    settings: Any,
    subscriber: Subscriber,
    make_pending_order: MakeOrder,
) -> None:
    settings.SIMCARE_PAYPAL_CLIENT_SECRET = "wrong"
    order = make_pending_order(subscriber, payment_method=PaymentMethod.PAYPAL)

    with pytest.raises(errors.PaymentProviderError):
        paypal.start_checkout(order, return_url=RETURN, cancel_url=CANCEL)
    assert Payment.objects.count() == 0


# --- capture -----------------------------------------------------------------------------------


def test_the_buyers_return_captures_and_settles_once(
    paypal_standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    # given an order the buyer approved on PayPal
    order, payment = approved_order(paypal_standin, subscriber, make_pending_order, 2000)
    client = signed_in_client(subscriber.user)
    url = f"/en/orders/{order.pk}/paypal/return/?token={payment.provider_reference}&PayerID=P1"

    # when PayPal sends the buyer back, twice (a reload)
    first = client.get(url)
    second = client.get(url)

    # then
    assert first.status_code == 302
    assert first["Location"] == f"/en/orders/{order.pk}/paid/"
    assert second.status_code == 302
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.state == OrderState.FULFILLED
    assert payment.status == PaymentStatus.SUCCEEDED
    assert len(paypal_standin.calls("POST", "/v2/checkout/orders/")) == 1  # one capture
    assert LedgerTransaction.objects.count() == 1
    assert run_ledger_verify()[0] == 0
    page = client.get(first["Location"])
    assert "Thank you, your payment is confirmed" in page.content.decode()


def test_the_capture_webhook_after_the_return_changes_nothing(
    paypal_standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order, payment = approved_order(paypal_standin, subscriber, make_pending_order, 2000)
    paypal.capture(order)
    headers, payload = paypal_standin.webhook(
        paypal_standin.completed_capture_event(payment.provider_reference)
    )

    response = post_webhook(headers, payload)

    assert response.status_code == 200
    assert response.json() == {"outcome": "duplicate"}
    assert Payment.objects.filter(order=order).count() == 1
    assert LedgerTransaction.objects.count() == 1


def test_a_capture_webhook_settles_an_order_whose_capture_answer_was_lost(
    paypal_standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    # given PayPal captured (through another path: the SDK call's answer never reached us)
    order, payment = approved_order(paypal_standin, subscriber, make_pending_order, 2500)
    client = paypal._client()
    client.orders.capture_order({"id": payment.provider_reference})
    event = paypal_standin.completed_capture_event(payment.provider_reference)
    headers, payload = paypal_standin.webhook(event)

    # when PayPal tells us, twice
    first = post_webhook(headers, payload)
    second = post_webhook(headers, payload)

    # then
    assert first.json() == {"outcome": "settled"}
    assert second.json() == {"outcome": "duplicate"}
    order.refresh_from_db()
    assert order.state == OrderState.FULFILLED
    assert LedgerTransaction.objects.count() == 1
    assert run_ledger_verify()[0] == 0


def test_a_declined_capture_leaves_the_order_pending_with_a_message(
    paypal_standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order, payment = approved_order(paypal_standin, subscriber, make_pending_order, 2000)
    paypal_standin.decline_next_capture = True
    client = signed_in_client(subscriber.user)

    response = client.get(
        f"/fr/orders/{order.pk}/paypal/return/?token={payment.provider_reference}", follow=True
    )

    assert response.status_code == 200
    assert "PayPal a refusé le paiement" in response.content.decode()
    order.refresh_from_db()
    assert order.state == OrderState.PENDING
    assert LedgerTransaction.objects.count() == 0


def test_a_declined_capture_is_a_final_error(
    paypal_standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order, _payment = approved_order(paypal_standin, subscriber, make_pending_order, 2000)
    paypal_standin.decline_next_capture = True

    with pytest.raises(errors.PaymentDeclined) as raised:
        paypal.capture(order)

    assert raised.value.retryable is False
    assert raised.value.details == {"decline_code": "INSTRUMENT_DECLINED"}


def test_paypal_down_at_the_return_says_we_will_confirm_later(
    paypal_standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order, payment = approved_order(paypal_standin, subscriber, make_pending_order, 2000)
    paypal_standin.failures.append(503)

    response = signed_in_client(subscriber.user).get(
        f"/en/orders/{order.pk}/paypal/return/?token={payment.provider_reference}", follow=True
    )

    assert "We could not reach PayPal just now" in response.content.decode()
    order.refresh_from_db()
    assert order.state == OrderState.PENDING


def test_a_return_token_of_another_order_captures_nothing(
    paypal_standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order, _payment = approved_order(paypal_standin, subscriber, make_pending_order, 2000)
    _other_order, other_payment = approved_order(
        paypal_standin, subscriber, make_pending_order, 3000
    )

    signed_in_client(subscriber.user).get(
        f"/en/orders/{order.pk}/paypal/return/?token={other_payment.provider_reference}"
    )

    assert paypal_standin.calls("POST", "/v2/checkout/orders/") == []
    assert LedgerTransaction.objects.count() == 0


def test_an_unapproved_order_is_not_captured(
    paypal_standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.PAYPAL)
    paypal.start_checkout(order, return_url=RETURN, cancel_url=CANCEL)

    with pytest.raises(errors.PaymentProviderError) as raised:
        paypal.capture(order)

    assert raised.value.retryable is False
    order.refresh_from_db()
    assert order.state == OrderState.PENDING


# --- the webhook: verification -----------------------------------------------------------------


def test_a_webhook_paypal_does_not_vouch_for_is_400_and_changes_nothing(
    paypal_standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order, payment = approved_order(paypal_standin, subscriber, make_pending_order, 2000)
    paypal._client().orders.capture_order({"id": payment.provider_reference})
    event = paypal_standin.completed_capture_event(payment.provider_reference)
    headers, payload = paypal_standin.webhook(event)
    tampered = json.loads(payload)
    tampered["resource"]["amount"]["value"] = "1.00"
    _other_headers, for_another_webhook = paypal_standin.webhook(event, webhook_id="WH-OTHER")

    cases = [
        (headers, json.dumps(tampered).encode()),
        ({**headers, "PAYPAL-TRANSMISSION-SIG": "Zm9yZ2Vk"}, payload),
        (_other_headers, for_another_webhook),
        ({k: v for k, v in headers.items() if k != "PAYPAL-CERT-URL"}, payload),
        ({}, payload),
        (headers, b"not json"),
        (headers, b"\xff\xfe"),
    ]
    for case_headers, case_payload in cases:
        response = post_webhook(case_headers, case_payload)
        assert response.status_code == 400, case_headers
        assert response.json() == {"code": "webhook_signature_invalid"}

    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.state == OrderState.PENDING
    assert payment.status == PaymentStatus.PENDING
    assert LedgerTransaction.objects.count() == 0


def test_a_webhook_when_paypal_cannot_verify_is_503_so_paypal_retries(
    paypal_standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order, payment = approved_order(paypal_standin, subscriber, make_pending_order, 2000)
    paypal._client().orders.capture_order({"id": payment.provider_reference})
    headers, payload = paypal_standin.webhook(
        paypal_standin.completed_capture_event(payment.provider_reference)
    )
    paypal_standin.failures.append(503)

    response = post_webhook(headers, payload)

    assert response.status_code == 503
    assert response.json() == {"code": "payment_provider_unavailable"}
    order.refresh_from_db()
    assert order.state == OrderState.PENDING


def test_other_verified_events_are_acknowledged_and_ignored(
    paypal_standin: PayPalStandIn,
) -> None:
    event = {"id": "WH-1", "event_type": "CHECKOUT.ORDER.APPROVED", "resource": {"id": "5O1"}}
    headers, payload = paypal_standin.webhook(event)

    response = post_webhook(headers, payload)

    assert response.status_code == 200
    assert response.json() == {"outcome": "ignored"}


def test_the_webhook_logs_no_signature_or_secret(
    paypal_standin: PayPalStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    event = {"id": "WH-2", "event_type": "CHECKOUT.ORDER.APPROVED", "resource": {"id": "5O2"}}
    headers, payload = paypal_standin.webhook(event)
    headers["PAYPAL-TRANSMISSION-SIG"] = "c2VjcmV0LXNpZ25hdHVyZQ=="

    with caplog.at_level(logging.DEBUG):
        post_webhook(headers, payload)

    logged = caplog.text + " ".join(str(record.__dict__) for record in caplog.records)
    assert "c2VjcmV0LXNpZ25hdHVyZQ==" not in logged
    assert paypal_standin.client_secret not in logged


# --- refunds ---------------------------------------------------------------------------------


def test_refunding_a_captured_payment_refunds_its_capture_once_per_key(
    paypal_standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order, payment = approved_order(paypal_standin, subscriber, make_pending_order, 2000)
    paypal.capture(order)
    payment.refresh_from_db()

    first = paypal.refund_payment(payment, 750, idempotency_key="refund:1")
    again = paypal.refund_payment(payment, 750, idempotency_key="refund:1")

    assert first == again
    [refund] = paypal_standin.refunds.values()
    assert refund["id"] == first
    assert refund["amount"] == {"currency_code": "CAD", "value": "7.50"}
    assert refund["capture_id"] == paypal_standin.capture_of(payment.provider_reference)["id"]


def test_a_pending_payment_cannot_be_refunded(
    paypal_standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    _order, payment = approved_order(paypal_standin, subscriber, make_pending_order, 2000)

    with pytest.raises(errors.PaymentMethodUnavailable):
        paypal.refund_payment(payment, 100, idempotency_key="refund:x")
    assert paypal_standin.refunds == {}


def test_capturing_an_order_paypal_already_captured_reads_it_back_and_settles(
    paypal_standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order, payment = approved_order(paypal_standin, subscriber, make_pending_order, 2000)
    paypal._client().orders.capture_order({"id": payment.provider_reference})

    settled = paypal.capture(order)

    assert settled.state == OrderState.FULFILLED
    assert LedgerTransaction.objects.count() == 1


def test_pay_sends_the_owner_to_paypal_with_our_return_pages(
    paypal_standin: PayPalStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.PAYPAL)

    response = signed_in_client(subscriber.user).post(f"/zh-hans/orders/{order.pk}/pay/")

    payment = Payment.objects.get(order=order)
    assert response.status_code == 200
    assert f'content="0;url={payment.redirect_url}"' in response.content.decode()
    [call] = paypal_standin.calls("POST", "/v2/checkout/orders")
    context = call.body["payment_source"]["paypal"]["experience_context"]
    assert context["return_url"] == f"http://testserver/zh-hans/orders/{order.pk}/paypal/return/"
    assert context["cancel_url"] == f"http://testserver/zh-hans/orders/{order.pk}/cancelled/"
    assert context["locale"] == "en-CA"  # the order's language: this subscriber's is English


@pytest.mark.parametrize(
    "resource",
    [
        "not an object",
        {"status": "COMPLETED", "amount": "x", "custom_id": ["1"]},
        {"status": "COMPLETED", "amount": {"value": "abc"}, "supplementary_data": 3},
    ],
)
def test_a_verified_event_of_an_odd_shape_never_errors(
    paypal_standin: PayPalStandIn, resource: object
) -> None:
    event = {"id": "WH-3", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": resource}
    headers, payload = paypal_standin.webhook(event)

    response = post_webhook(headers, payload)

    assert response.status_code == 200
    assert response.json() == {"outcome": "ignored"}


def test_refunding_a_paypal_order_goes_back_through_paypal(
    paypal_standin: PayPalStandIn,
    subscriber: Subscriber,
    make_pending_order: MakeOrder,
    make_staff: Callable[..., Any],
) -> None:
    order, payment = approved_order(paypal_standin, subscriber, make_pending_order, 2000)
    paypal.capture(order)
    agent = make_staff(Role.AGENT)

    ordering.refund_order(
        Order.objects.get(pk=order.pk),
        amount_cents=2000,
        to_wallet=False,
        acting_user=agent,
        reason="duplicate purchase",
        idempotency_key="agent-refund-2",
    )

    order.refresh_from_db()
    assert (order.state, order.refunded_cents) == (OrderState.REFUNDED, 2000)
    [refund] = paypal_standin.refunds.values()
    assert refund["amount"] == {"currency_code": "CAD", "value": "20.00"}
    assert run_ledger_verify()[0] == 0
    payment.refresh_from_db()
    with pytest.raises(errors.PaymentProviderError):
        paypal.refund_payment(payment, 1, idempotency_key="more")
