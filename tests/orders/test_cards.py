"""Card payments through Stripe, against the local Stripe stand-in (tests/orders/stripe_standin.py).

Webhooks are posted to /payments/stripe/webhook signed exactly as Stripe signs them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from simcare.accounts.models import Role, Subscriber
from simcare.ledger.models import LedgerTransaction
from simcare.orders import errors
from simcare.orders.models import (
    Order,
    OrderState,
    Payment,
    PaymentMethod,
    PaymentStatus,
    SavedPaymentMethod,
)
from simcare.orders.services import cards, ordering
from tests.conftest import signed_in_client
from tests.orders.conftest import STRIPE_WEBHOOK_SECRET, run_ledger_verify
from tests.orders.stripe_standin import StripeStandIn, event_payload, sign

pytestmark = pytest.mark.django_db

WEBHOOK = "/payments/stripe/webhook"
SUCCESS = "https://simcare.test/en/orders/1/paid/"
CANCEL = "https://simcare.test/en/orders/1/cancelled/"
MakeOrder = Callable[..., Order]


def post_event(payload: bytes, signature: str | None = None) -> Any:
    header = sign(payload, STRIPE_WEBHOOK_SECRET) if signature is None else signature
    return Client().post(
        WEBHOOK, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )


def paid_checkout(
    standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder, cents: int
) -> tuple[Order, Payment, bytes]:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD, amount_cents=cents)
    payment = cards.start_checkout(order, success_url=SUCCESS, cancel_url=CANCEL)
    session = standin.pay_session(payment.provider_reference)
    return order, payment, event_payload("checkout.session.completed", session)


# --- configuration ---------------------------------------------------------------------------


def test_without_keys_the_card_method_is_not_configured_and_refused(
    stripe_standin: StripeStandIn,
    settings: Any,
    subscriber: Subscriber,
    make_pending_order: MakeOrder,
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD)
    settings.SIMCARE_STRIPE_SECRET_KEY = ""
    settings.SIMCARE_STRIPE_WEBHOOK_SECRET = ""

    assert cards.is_configured() is False
    with pytest.raises(errors.PaymentMethodUnavailable):
        cards.start_checkout(order, success_url=SUCCESS, cancel_url=CANCEL)
    response = post_event(b"{}", "t=1,v1=00")
    assert response.status_code == 400
    assert Payment.objects.count() == 0


def test_both_keys_make_the_card_method_configured(settings: Any) -> None:
    settings.SIMCARE_STRIPE_SECRET_KEY = "sk_test_x"
    settings.SIMCARE_STRIPE_WEBHOOK_SECRET = ""
    assert cards.is_configured() is False
    settings.SIMCARE_STRIPE_WEBHOOK_SECRET = "whsec_x"
    assert cards.is_configured() is True


# --- checkout ----------------------------------------------------------------------------------


def test_start_checkout_creates_a_cad_session_and_a_pending_payment(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD, amount_cents=3390)

    payment = cards.start_checkout(order, success_url=SUCCESS, cancel_url=CANCEL)

    assert payment.method == PaymentMethod.CARD
    assert payment.provider == "stripe"
    assert payment.status == PaymentStatus.PENDING
    assert payment.amount_cents == 3390
    assert payment.provider_reference.startswith("cs_test_")
    assert payment.redirect_url == (
        f"https://checkout.stripe.test/c/pay/{payment.provider_reference}"
    )
    [call] = stripe_standin.calls("POST", "/v1/checkout/sessions")
    assert call.params["mode"] == "payment"
    assert call.params["currency"] == "cad"
    assert call.params["line_items[0][price_data][unit_amount]"] == "3390"
    description = order.items.get().description
    assert call.params["line_items[0][price_data][product_data][name]"] == (
        f"{order.number} · {description}"
    )
    assert call.params["metadata[order_id]"] == str(order.pk)
    assert call.params["success_url"] == SUCCESS
    assert call.params["cancel_url"] == CANCEL
    assert call.headers["idempotency-key"] == f"simcare-checkout-order-{order.pk}"


def test_start_checkout_twice_returns_the_same_payment(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD)

    first = cards.start_checkout(order, success_url=SUCCESS, cancel_url=CANCEL)
    second = cards.start_checkout(order, success_url=SUCCESS, cancel_url=CANCEL)

    assert second.pk == first.pk
    assert Payment.objects.count() == 1
    assert len(stripe_standin.calls("POST", "/v1/checkout/sessions")) == 1


@pytest.mark.parametrize("status", [500, 503, 429])
def test_stripe_unavailable_is_a_retryable_error_and_records_nothing(
    stripe_standin: StripeStandIn,
    subscriber: Subscriber,
    make_pending_order: MakeOrder,
    status: int,
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD)
    stripe_standin.failures.append(status)

    with pytest.raises(errors.PaymentProviderUnavailable) as raised:
        cards.start_checkout(order, success_url=SUCCESS, cancel_url=CANCEL)

    assert raised.value.retryable is True
    assert Payment.objects.count() == 0


def test_stripe_unreachable_is_a_retryable_error(
    settings: Any, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    settings.SIMCARE_STRIPE_SECRET_KEY = "sk_test_x"
    settings.SIMCARE_STRIPE_WEBHOOK_SECRET = "whsec_x"
    settings.SIMCARE_STRIPE_API_BASE = "http://127.0.0.1:9"  # discard port: refused
    settings.SIMCARE_STRIPE_MAX_NETWORK_RETRIES = 0
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD)

    with pytest.raises(errors.PaymentProviderUnavailable):
        cards.start_checkout(order, success_url=SUCCESS, cancel_url=CANCEL)
    assert Payment.objects.count() == 0


def test_a_wrong_secret_key_is_a_final_error(
    stripe_standin: StripeStandIn,
    settings: Any,
    subscriber: Subscriber,
    make_pending_order: MakeOrder,
) -> None:
    settings.SIMCARE_STRIPE_SECRET_KEY = "sk_test_wrong"
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD)

    with pytest.raises(errors.PaymentProviderError) as raised:
        cards.start_checkout(order, success_url=SUCCESS, cancel_url=CANCEL)

    assert raised.value.retryable is False


def test_only_a_pending_card_order_can_start_a_checkout(
    stripe_standin: StripeStandIn,
    paypal_standin: Any,
    subscriber: Subscriber,
    make_pending_order: MakeOrder,
) -> None:
    paypal_order = make_pending_order(subscriber, payment_method=PaymentMethod.PAYPAL)
    with pytest.raises(errors.PaymentMethodUnavailable):
        cards.start_checkout(paypal_order, success_url=SUCCESS, cancel_url=CANCEL)
    assert stripe_standin.requests == []


# --- the webhook: signature -----------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "garbage",
        "t=notanumber,v1=abc",
        "t=1700000000,v1=" + "0" * 64,
        "v0=abc",
    ],
)
def test_a_webhook_without_a_valid_signature_is_400_and_changes_nothing(
    stripe_standin: StripeStandIn,
    subscriber: Subscriber,
    make_pending_order: MakeOrder,
    signature: str,
) -> None:
    order, payment, payload = paid_checkout(stripe_standin, subscriber, make_pending_order, 2000)

    response = post_event(payload, signature)

    assert response.status_code == 400
    assert response.json() == {"code": "webhook_signature_invalid"}
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.state == OrderState.PENDING
    assert payment.status == PaymentStatus.PENDING
    assert LedgerTransaction.objects.count() == 0


def test_a_webhook_signed_with_another_secret_is_400(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order, _payment, payload = paid_checkout(stripe_standin, subscriber, make_pending_order, 2000)

    response = post_event(payload, sign(payload, "whsec_someone_else"))

    assert response.status_code == 400
    order.refresh_from_db()
    assert order.state == OrderState.PENDING


def test_a_replayed_old_webhook_is_400(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order, _payment, payload = paid_checkout(stripe_standin, subscriber, make_pending_order, 2000)
    an_hour_ago = int(time.time()) - 3600

    response = post_event(payload, sign(payload, STRIPE_WEBHOOK_SECRET, timestamp=an_hour_ago))

    assert response.status_code == 400
    order.refresh_from_db()
    assert order.state == OrderState.PENDING


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"type": 5}',
        b'{"type": "checkout.session.completed", "data": "x"}',
        b'{"type": "checkout.session.completed", "data": {"object": {"id": "cs_1",'
        b' "payment_status": "paid", "metadata": "x", "amount_total": "abc"}}}',
        b'{"type": "payment_intent.payment_failed", "data": {"object": {"id": "pi_1",'
        b' "metadata": {"purpose": "off_session"}, "last_payment_error": 7}}}',
        b'{"type": "setup_intent.succeeded", "data": {"object": {"id": "seti_1",'
        b' "metadata": ["x"], "payment_method": {"id": 5}}}}',
    ],
)
def test_a_signed_webhook_that_is_not_an_event_never_errors(
    stripe_standin: StripeStandIn, payload: bytes
) -> None:
    response = post_event(payload)

    assert response.status_code in {200, 400}


def test_a_webhook_is_post_only(stripe_standin: StripeStandIn) -> None:
    assert Client().get(WEBHOOK).status_code == 405


def test_an_event_of_another_kind_is_acknowledged_and_ignored(
    stripe_standin: StripeStandIn,
) -> None:
    payload = event_payload("customer.created", {"id": "cus_1", "object": "customer"})

    response = post_event(payload)

    assert response.status_code == 200
    assert response.json() == {"outcome": "ignored"}


def test_the_webhook_logs_neither_the_secret_nor_the_signature(
    stripe_standin: StripeStandIn,
    subscriber: Subscriber,
    make_pending_order: MakeOrder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _order, _payment, payload = paid_checkout(stripe_standin, subscriber, make_pending_order, 2000)
    signature = sign(payload, "whsec_someone_else")

    with caplog.at_level(logging.DEBUG):
        post_event(payload, signature)

    logged = caplog.text + " ".join(str(record.__dict__) for record in caplog.records)
    assert STRIPE_WEBHOOK_SECRET not in logged
    assert signature.split("v1=")[1] not in logged
    assert stripe_standin.secret_key not in logged


# --- the webhook: settling -------------------------------------------------------------------


def test_a_paid_checkout_settles_the_order_once_through_the_webhook(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    # given a pending card order sent to Stripe Checkout and paid there
    order, payment, payload = paid_checkout(stripe_standin, subscriber, make_pending_order, 2000)

    # when Stripe tells us, and tells us again
    first = post_event(payload)
    second = post_event(payload)

    # then
    assert first.status_code == 200
    assert first.json() == {"outcome": "settled"}
    assert second.status_code == 200
    assert second.json() == {"outcome": "duplicate"}
    order.refresh_from_db()
    assert order.state == OrderState.FULFILLED
    payments = list(Payment.objects.filter(order=order))
    assert [(p.pk, p.status, p.amount_cents) for p in payments] == [
        (payment.pk, PaymentStatus.SUCCEEDED, 2000)
    ]
    assert LedgerTransaction.objects.count() == 1
    assert run_ledger_verify()[0] == 0


def test_an_unpaid_completed_session_waits_for_the_async_payment(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD)
    payment = cards.start_checkout(order, success_url=SUCCESS, cancel_url=CANCEL)
    session = {**stripe_standin.sessions[payment.provider_reference], "status": "complete"}

    response = post_event(event_payload("checkout.session.completed", session))

    assert response.json() == {"outcome": "waiting"}
    order.refresh_from_db()
    assert order.state == OrderState.PENDING

    paid = stripe_standin.pay_session(payment.provider_reference)
    response = post_event(event_payload("checkout.session.async_payment_succeeded", paid))

    assert response.json() == {"outcome": "settled"}
    order.refresh_from_db()
    assert order.state == OrderState.FULFILLED


def test_an_expired_session_fails_the_payment_and_the_order(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD)
    payment = cards.start_checkout(order, success_url=SUCCESS, cancel_url=CANCEL)
    payload = event_payload(
        "checkout.session.expired", stripe_standin.expire_session(payment.provider_reference)
    )

    assert post_event(payload).json() == {"outcome": "failed"}
    assert post_event(payload).json() == {"outcome": "ignored"}

    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.state == OrderState.FAILED
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_code == "checkout_expired"
    assert LedgerTransaction.objects.count() == 0


def test_a_session_for_an_unknown_order_is_ignored(stripe_standin: StripeStandIn) -> None:
    session = {
        "id": "cs_test_unknown",
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "amount_total": 2000,
        "metadata": {"order_id": "999999"},
    }

    response = post_event(event_payload("checkout.session.completed", session))

    assert response.json() == {"outcome": "ignored"}
    assert Payment.objects.count() == 0


def test_a_paid_amount_that_differs_from_the_order_is_held_for_staff(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order, _payment, payload = paid_checkout(stripe_standin, subscriber, make_pending_order, 2000)
    event = json.loads(payload)
    event["data"]["object"]["amount_total"] = 1500

    response = post_event(json.dumps(event).encode())

    assert response.status_code == 200
    assert response.json() == {"outcome": "needs_attention"}
    order.refresh_from_db()
    assert order.state == OrderState.PENDING
    assert LedgerTransaction.objects.count() == 0


# --- saved cards -------------------------------------------------------------------------------


def save_card(
    standin: StripeStandIn, subscriber: Subscriber, payment_method: str = "pm_card_visa"
) -> SavedPaymentMethod:
    url = cards.start_card_setup(subscriber, success_url=SUCCESS, cancel_url=CANCEL)
    session_id = url.rsplit("/", 1)[1]
    setup_intent = standin.complete_setup(session_id, payment_method)
    response = post_event(event_payload("setup_intent.succeeded", setup_intent))
    assert response.json() == {"outcome": "saved"}
    return SavedPaymentMethod.objects.get(method_reference=payment_method)


def test_card_setup_opens_checkout_in_setup_mode_for_a_new_customer(
    stripe_standin: StripeStandIn, subscriber: Subscriber
) -> None:
    url = cards.start_card_setup(subscriber, success_url=SUCCESS, cancel_url=CANCEL)

    [customer] = stripe_standin.customers.values()
    [call] = stripe_standin.calls("POST", "/v1/checkout/sessions")
    assert url.startswith("https://checkout.stripe.test/c/pay/cs_test_")
    assert customer["metadata"] == {"subscriber_id": str(subscriber.pk)}
    assert call.params["mode"] == "setup"
    assert call.params["customer"] == customer["id"]
    assert call.params["setup_intent_data[metadata][subscriber_id]"] == str(subscriber.pk)


def test_a_succeeded_setup_intent_saves_brand_last4_and_expiry_once(
    stripe_standin: StripeStandIn, subscriber: Subscriber
) -> None:
    url = cards.start_card_setup(subscriber, success_url=SUCCESS, cancel_url=CANCEL)
    setup_intent = stripe_standin.complete_setup(url.rsplit("/", 1)[1], "pm_card_visa")
    payload = event_payload("setup_intent.succeeded", setup_intent)

    assert post_event(payload).json() == {"outcome": "saved"}
    assert post_event(payload).json() == {"outcome": "duplicate"}

    [method] = SavedPaymentMethod.objects.all()
    assert method.subscriber == subscriber
    assert method.provider == "stripe"
    assert method.customer_reference == setup_intent["customer"]
    assert method.method_reference == "pm_card_visa"
    assert (method.brand, method.last4, method.exp_month, method.exp_year) == (
        "visa",
        "4242",
        12,
        2030,
    )
    assert method.is_default is True


def test_a_second_saved_card_becomes_the_default_with_the_same_customer(
    stripe_standin: StripeStandIn, subscriber: Subscriber
) -> None:
    first = save_card(stripe_standin, subscriber, "pm_card_visa")
    second = save_card(stripe_standin, subscriber, "pm_card_mastercard")

    first.refresh_from_db()
    assert first.is_default is False
    assert second.is_default is True
    assert second.customer_reference == first.customer_reference
    assert len(stripe_standin.customers) == 1


def test_charging_a_saved_card_settles_the_order(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    method = save_card(stripe_standin, subscriber)
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD, amount_cents=3390)

    payment = cards.charge_saved_method(order, method)

    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.provider_reference.startswith("pi_")
    order.refresh_from_db()
    assert order.state == OrderState.FULFILLED
    [call] = stripe_standin.calls("POST", "/v1/payment_intents")
    assert call.params["amount"] == "3390"
    assert call.params["currency"] == "cad"
    assert call.params["off_session"] == "true"
    assert call.params["confirm"] == "true"
    assert call.params["customer"] == method.customer_reference
    assert call.params["payment_method"] == "pm_card_visa"
    assert call.headers["idempotency-key"] == f"simcare-charge-order-{order.pk}"
    assert LedgerTransaction.objects.count() == 1
    assert run_ledger_verify()[0] == 0

    # Stripe's payment_intent.succeeded for the same charge changes nothing more.
    intent = stripe_standin.intents[payment.provider_reference]
    response = post_event(event_payload("payment_intent.succeeded", intent))
    assert response.json() == {"outcome": "duplicate"}
    assert LedgerTransaction.objects.count() == 1


def test_charging_twice_charges_once(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    method = save_card(stripe_standin, subscriber)
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD)

    first = cards.charge_saved_method(order, method)
    with pytest.raises(errors.PaymentMethodUnavailable):
        cards.charge_saved_method(Order.objects.get(pk=order.pk), method)

    assert first.status == PaymentStatus.SUCCEEDED
    assert len(stripe_standin.intents) == 1
    assert LedgerTransaction.objects.count() == 1


@pytest.mark.parametrize(
    ("payment_method", "code"),
    [
        ("pm_card_chargeDeclined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("pm_card_authenticationRequired", "authentication_required"),
        ("pm_card_threeDSecureRequired", "authentication_required"),
    ],
)
def test_a_declined_saved_card_fails_the_payment_and_leaves_the_order_pending(
    stripe_standin: StripeStandIn,
    subscriber: Subscriber,
    make_pending_order: MakeOrder,
    payment_method: str,
    code: str,
) -> None:
    method = save_card(stripe_standin, subscriber, payment_method)
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD)

    payment = cards.charge_saved_method(order, method)

    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_code == code
    assert payment.provider_reference.startswith("pi_")
    order.refresh_from_db()
    assert order.state == OrderState.PENDING
    assert LedgerTransaction.objects.count() == 0


def test_stripe_down_during_a_charge_is_retryable_and_the_retry_charges_once(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    method = save_card(stripe_standin, subscriber)
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD)
    stripe_standin.failures.append(503)

    with pytest.raises(errors.PaymentProviderUnavailable):
        cards.charge_saved_method(order, method)
    assert Payment.objects.filter(order=order).count() == 0

    payment = cards.charge_saved_method(order, method)

    assert payment.status == PaymentStatus.SUCCEEDED
    assert len(stripe_standin.intents) == 1


def test_an_off_session_charge_whose_answer_was_lost_settles_on_its_webhook(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD)
    intent = {
        "id": "pi_lost_answer",
        "object": "payment_intent",
        "amount": 2000,
        "amount_received": 2000,
        "status": "succeeded",
        "metadata": {"order_id": str(order.pk), "purpose": "off_session"},
    }

    response = post_event(event_payload("payment_intent.succeeded", intent))

    assert response.json() == {"outcome": "settled"}
    order.refresh_from_db()
    assert order.state == OrderState.FULFILLED
    assert Payment.objects.get(order=order).provider_reference == "pi_lost_answer"


def test_a_checkout_payment_intent_event_is_left_to_its_session(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order, payment, _payload = paid_checkout(stripe_standin, subscriber, make_pending_order, 2000)
    intent_id = stripe_standin.sessions[payment.provider_reference]["payment_intent"]

    response = post_event(
        event_payload("payment_intent.succeeded", stripe_standin.intents[intent_id])
    )

    assert response.json() == {"outcome": "ignored"}
    order.refresh_from_db()
    assert order.state == OrderState.PENDING


def test_another_subscribers_card_is_refused(
    stripe_standin: StripeStandIn,
    make_subscriber: Callable[..., Subscriber],
    make_pending_order: MakeOrder,
) -> None:
    owner, other = make_subscriber(), make_subscriber()
    method = save_card(stripe_standin, owner)
    order = make_pending_order(other, payment_method=PaymentMethod.CARD)

    with pytest.raises(errors.PaymentMethodUnavailable):
        cards.charge_saved_method(order, method)
    assert stripe_standin.calls("POST", "/v1/payment_intents") == []


# --- refunds ---------------------------------------------------------------------------------


def test_refunding_a_checkout_payment_refunds_its_intent_once_per_key(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order, payment, payload = paid_checkout(stripe_standin, subscriber, make_pending_order, 2000)
    post_event(payload)
    payment.refresh_from_db()

    first = cards.refund_payment(payment, 500, idempotency_key="refund:1")
    again = cards.refund_payment(payment, 500, idempotency_key="refund:1")

    assert first == again
    [refund] = stripe_standin.refunds.values()
    assert refund["id"] == first
    assert refund["amount"] == 500
    assert (
        refund["payment_intent"]
        == stripe_standin.sessions[payment.provider_reference]["payment_intent"]
    )
    assert refund["metadata"] == {"order_id": str(order.pk), "payment_id": str(payment.pk)}


def test_refunding_more_than_was_charged_is_refused_before_calling_stripe(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    _order, payment, payload = paid_checkout(stripe_standin, subscriber, make_pending_order, 2000)
    post_event(payload)
    payment.refresh_from_db()
    calls_before = len(stripe_standin.requests)

    with pytest.raises(errors.PaymentProviderError):
        cards.refund_payment(payment, 2001, idempotency_key="refund:2")
    assert len(stripe_standin.requests) == calls_before


def test_a_refund_stripe_refuses_is_a_final_error(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    _order, payment, payload = paid_checkout(stripe_standin, subscriber, make_pending_order, 2000)
    post_event(payload)
    payment.refresh_from_db()
    cards.refund_payment(payment, 2000, idempotency_key="refund:all")

    with pytest.raises(errors.PaymentProviderError) as raised:
        cards.refund_payment(payment, 100, idempotency_key="refund:more")
    assert raised.value.retryable is False


# --- the return pages ----------------------------------------------------------------------------


def test_the_return_page_thanks_the_owner_and_shows_the_state(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD)
    client = signed_in_client(subscriber.user)

    pending = client.get(f"/en/orders/{order.pk}/paid/")
    french = client.get(f"/fr/orders/{order.pk}/paid/")
    chinese = client.get(f"/zh-hans/orders/{order.pk}/paid/")

    assert pending.status_code == 200
    assert "Thank you, we are confirming your payment" in pending.content.decode()
    assert order.number in pending.content.decode()
    assert "Awaiting payment" in pending.content.decode()
    assert "Merci, nous confirmons votre paiement" in french.content.decode()
    assert "谢谢，我们正在确认您的付款" in chinese.content.decode()  # noqa: RUF001


def test_the_return_page_after_the_webhook_says_paid(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order, _payment, payload = paid_checkout(stripe_standin, subscriber, make_pending_order, 2000)
    post_event(payload)

    response = signed_in_client(subscriber.user).get(f"/en/orders/{order.pk}/paid/")

    assert "Thank you, your payment is confirmed" in response.content.decode()


def test_the_return_pages_are_404_for_someone_else_and_ask_strangers_to_sign_in(
    stripe_standin: StripeStandIn,
    subscriber: Subscriber,
    make_subscriber: Callable[..., Subscriber],
    make_pending_order: MakeOrder,
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD)
    other = signed_in_client(make_subscriber().user)

    for page in ("paid", "cancelled", "paypal/return"):
        assert other.get(f"/en/orders/{order.pk}/{page}/").status_code == 404
        anonymous = Client().get(f"/en/orders/{order.pk}/{page}/")
        assert anonymous.status_code == 302
        assert anonymous["Location"].startswith("/en/accounts/login/")
    assert other.get("/en/orders/999999/paid/").status_code == 404


def test_the_cancel_page_says_nothing_was_charged(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD)

    response = signed_in_client(subscriber.user).get(f"/fr/orders/{order.pk}/cancelled/")

    assert response.status_code == 200
    assert "Paiement annulé" in response.content.decode()
    order.refresh_from_db()
    assert order.state == OrderState.PENDING


def test_pay_sends_the_owner_to_stripe_checkout_with_our_return_pages(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD)
    client = signed_in_client(subscriber.user)

    response = client.post(f"/en/orders/{order.pk}/pay/")
    again = client.post(f"/en/orders/{order.pk}/pay/")

    payment = Payment.objects.get(order=order)
    # a page that moves on by itself: a 303 after a POST is blocked by form-action 'self'
    assert response.status_code == again.status_code == 200
    assert f'content="0;url={payment.redirect_url}"' in response.content.decode()
    assert f'content="0;url={payment.redirect_url}"' in again.content.decode()
    [call] = stripe_standin.calls("POST", "/v1/checkout/sessions")
    assert call.params["success_url"] == f"http://testserver/en/orders/{order.pk}/paid/"
    assert call.params["cancel_url"] == f"http://testserver/en/orders/{order.pk}/cancelled/"


def test_pay_is_refused_to_others_and_needs_a_post(
    stripe_standin: StripeStandIn,
    subscriber: Subscriber,
    make_subscriber: Callable[..., Subscriber],
    make_pending_order: MakeOrder,
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD)

    assert (
        signed_in_client(make_subscriber().user).post(f"/en/orders/{order.pk}/pay/").status_code
        == 404
    )
    assert signed_in_client(subscriber.user).get(f"/en/orders/{order.pk}/pay/").status_code == 405
    assert Payment.objects.count() == 0
    assert stripe_standin.requests == []


def test_pay_when_stripe_is_down_says_so_on_the_order_page(
    stripe_standin: StripeStandIn, subscriber: Subscriber, make_pending_order: MakeOrder
) -> None:
    order = make_pending_order(subscriber, payment_method=PaymentMethod.CARD)
    stripe_standin.failures.append(503)

    response = signed_in_client(subscriber.user).post(f"/fr/orders/{order.pk}/pay/", follow=True)

    assert response.status_code == 200
    assert "Le prestataire de paiement est injoignable" in response.content.decode()
    assert Payment.objects.count() == 0


def test_refunding_a_card_order_goes_back_to_the_card_through_stripe(
    stripe_standin: StripeStandIn,
    subscriber: Subscriber,
    make_pending_order: MakeOrder,
    make_staff: Callable[..., Any],
) -> None:
    order, payment, payload = paid_checkout(stripe_standin, subscriber, make_pending_order, 2000)
    post_event(payload)
    agent = make_staff(Role.AGENT)

    for _attempt in range(2):
        ordering.refund_order(
            Order.objects.get(pk=order.pk),
            amount_cents=500,
            to_wallet=False,
            acting_user=agent,
            reason="changed my mind",
            idempotency_key="agent-refund-1",
        )

    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.state, order.refunded_cents) == (OrderState.REFUNDED, 500)
    assert payment.refunded_cents == 500
    [refund] = stripe_standin.refunds.values()
    assert refund["amount"] == 500
    assert run_ledger_verify()[0] == 0
