"""Card payments through Stripe: Checkout Sessions, saved cards for auto-renew, refunds.

An order paid by card is paid only when Stripe says so in a verified webhook
(checkout.session.completed with payment_status "paid"), or when an off-session
charge of a saved card comes back "succeeded". Both end in ordering.settle_order,
idempotent on (provider "stripe", reference), so a webhook delivered twice, or a
webhook racing the charge's own answer, settles once.

No card number touches simcare: Stripe's hosted pages collect it; we keep the
Checkout Session or PaymentIntent id, and for a saved card its brand, last four
digits and expiry.

Outbound calls never run inside a database transaction (a slow Stripe must not
hold a row or, on SQLite, the write lock); each carries an idempotency key derived
from the order, so a retry after a timeout finds the first answer at Stripe.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from simcare.accounts.models import Subscriber, User
from simcare.accounts.services import record_audit
from simcare.kit.money import CURRENCY
from simcare.orders import errors
from simcare.orders.models import (
    AutoRenewSetting,
    Order,
    OrderState,
    Payment,
    PaymentMethod,
    PaymentStatus,
    SavedPaymentMethod,
)

logger = logging.getLogger(__name__)

PROVIDER = "stripe"
_Json = dict[str, Any]
# Stripe's decline codes a customer may see explained; anything else is "card_declined".
_AUTHENTICATION_REQUIRED = "authentication_required"


def is_configured() -> bool:
    """Card payments are offered only with both the secret key and the webhook secret set."""
    return bool(settings.SIMCARE_STRIPE_SECRET_KEY and settings.SIMCARE_STRIPE_WEBHOOK_SECRET)


def _client() -> stripe.StripeClient:
    if not is_configured():
        raise errors.PaymentMethodUnavailable()
    base_addresses: dict[str, str] = {}
    if settings.SIMCARE_STRIPE_API_BASE:
        base_addresses["api"] = settings.SIMCARE_STRIPE_API_BASE
    return stripe.StripeClient(
        settings.SIMCARE_STRIPE_SECRET_KEY,
        base_addresses=base_addresses,  # type: ignore[arg-type]
        max_network_retries=settings.SIMCARE_STRIPE_MAX_NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=settings.SIMCARE_PAYMENT_PROVIDER_TIMEOUT),
    )


def _provider_error(error: stripe.StripeError) -> errors.PaymentProviderError:
    """Our error type for a Stripe failure: retryable (network, 5xx, rate limit) or final."""
    if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError):
        return errors.PaymentProviderUnavailable()
    if isinstance(error, stripe.CardError):
        return errors.PaymentDeclined(decline_code=_decline_code(error))
    if isinstance(error, stripe.APIError) or (error.http_status or 0) >= 500:
        return errors.PaymentProviderUnavailable()
    if isinstance(error, stripe.IdempotencyError) and (error.http_status or 0) == 409:
        # The same key is still in flight at Stripe (a concurrent call): try again shortly.
        return errors.PaymentProviderUnavailable()
    return errors.PaymentProviderError(stripe_code=error.code or "")


def _error_detail(error: stripe.StripeError) -> _Json:
    body = error.json_body if isinstance(error.json_body, dict) else {}
    detail = body.get("error")
    return detail if isinstance(detail, dict) else {}


def _decline_code(error: stripe.StripeError) -> str:
    detail = _error_detail(error)
    return str(detail.get("decline_code") or error.code or "card_declined")[:60]


def _log_failure(action: str, order_id: int | None, error: stripe.StripeError) -> None:
    # Stripe's messages carry no card data; the key is never part of them.
    logger.warning(
        "stripe call failed",
        extra={
            "action": action,
            "order_id": order_id,
            "error_type": type(error).__name__,
            "http_status": error.http_status,
            "stripe_code": error.code,
            "request_id": error.request_id,
        },
    )


# --- one-off payments: Checkout Session ------------------------------------------------------


def start_checkout(order: Order, *, success_url: str, cancel_url: str) -> Payment:
    """The Stripe Checkout Session that collects a pending card order's total, as a Payment.

    Calling it again for the same order returns the same Payment (and, at Stripe, the
    same session: the idempotency key is the order's).
    """
    if order.state != OrderState.PENDING or order.payment_method != PaymentMethod.CARD:
        raise errors.PaymentMethodUnavailable()
    existing = _pending_payment(order)
    if existing is not None:
        return existing
    client = _client()
    try:
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "currency": CURRENCY.lower(),
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": CURRENCY.lower(),
                            "unit_amount": order.total_cents,
                            "product_data": {"name": _description(order)},
                        },
                    }
                ],
                "client_reference_id": str(order.pk),
                "metadata": {"order_id": str(order.pk)},
                "payment_intent_data": {"metadata": {"order_id": str(order.pk)}},
                "locale": _stripe_locale(order.language),
                "success_url": success_url,
                "cancel_url": cancel_url,
            },
            options={"idempotency_key": f"simcare-checkout-order-{order.pk}"},
        )
    except stripe.StripeError as error:
        _log_failure("checkout", order.pk, error)
        raise _provider_error(error) from error
    return _record_payment(
        order,
        method=PaymentMethod.CARD,
        reference=session.id,
        amount_cents=order.total_cents,
        redirect_url=session.url or "",
    )


def _description(order: Order) -> str:
    """What the buyer sees on Stripe's page: "SC-0001042 · Canada 30 days"."""
    first = order.items.order_by("id").values_list("description", flat=True).first()
    return f"{order.number} · {first}"[:200] if first else order.number


def _stripe_locale(language: str) -> str:
    return {"fr": "fr-CA", "zh-hans": "zh"}.get(language, "en")


def _pending_payment(order: Order) -> Payment | None:
    return (
        Payment.objects.filter(order=order, provider=PROVIDER, status=PaymentStatus.PENDING)
        .order_by("id")
        .first()
    )


def _record_payment(
    order: Order, *, method: str, reference: str, amount_cents: int, redirect_url: str = ""
) -> Payment:
    """The Payment row for a provider reference, created once even when two calls race."""
    try:
        with transaction.atomic():
            payment, _created = Payment.objects.get_or_create(
                provider=PROVIDER,
                provider_reference=reference,
                defaults={
                    "order": order,
                    "method": method,
                    "amount_cents": amount_cents,
                    "redirect_url": redirect_url,
                },
            )
    except IntegrityError:
        payment = Payment.objects.get(provider=PROVIDER, provider_reference=reference)
    return payment


# --- webhooks -----------------------------------------------------------------------------------


def handle_webhook(payload: bytes, signature: str) -> str:
    """Verify and apply one Stripe event; returns what was done ("settled", "ignored", …).

    Raises errors.WebhookSignatureInvalid for a payload Stripe did not sign (or that is
    not JSON). Every branch is safe to run twice: Stripe delivers at least once.
    """
    if not is_configured():
        raise errors.WebhookSignatureInvalid()
    try:
        stripe.Webhook.construct_event(payload, signature, settings.SIMCARE_STRIPE_WEBHOOK_SECRET)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError) as error:
        raise errors.WebhookSignatureInvalid() from error
    except (TypeError, KeyError, AttributeError) as error:
        # Signed, but not the shape of an event: nothing to apply, and nothing to retry.
        raise errors.WebhookSignatureInvalid() from error
    data = event.get("data") if isinstance(event, dict) else None
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict) or not obj.get("id"):
        return "ignored"
    handler = _EVENT_HANDLERS.get(str(event.get("type", "")))
    if handler is None:
        return "ignored"
    return handler(obj)


def _mapping(value: object) -> _Json:
    """A nested object of a signed event, or {} when it is absent or not an object."""
    return value if isinstance(value, dict) else {}


def _cents(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _order_from_metadata(obj: _Json) -> Order | None:
    metadata = _mapping(obj.get("metadata"))
    order_id = str(metadata.get("order_id") or obj.get("client_reference_id") or "")
    if not order_id.isdigit():
        return None
    return Order.objects.filter(pk=int(order_id)).first()


def _on_session_completed(session: _Json) -> str:
    if session.get("mode") == "setup":
        return "ignored"  # the card is saved on setup_intent.succeeded
    if session.get("payment_status") != "paid":
        return "waiting"  # a delayed method: checkout.session.async_payment_succeeded follows
    return _settle_from_stripe(session, reference=str(session["id"]))


def _on_session_async_succeeded(session: _Json) -> str:
    return _settle_from_stripe(session, reference=str(session["id"]))


def _settle_from_stripe(obj: _Json, *, reference: str) -> str:
    order = _order_from_metadata(obj)
    if order is None:
        return "ignored"
    from simcare.orders.services import ordering

    amount = _cents(obj.get("amount_total")) or _cents(obj.get("amount_received"))
    _record_payment(
        order,
        method=PaymentMethod.CARD,
        reference=reference,
        amount_cents=amount,
    )
    if _already_settled(reference):
        return "duplicate"
    try:
        ordering.settle_order(
            order, provider=PROVIDER, provider_reference=reference, amount_cents=amount
        )
    except errors.OrderError as error:
        if _already_settled(reference):
            return "duplicate"  # a concurrent delivery settled it first
        # Money Stripe took that the order cannot take (wrong amount, order cancelled
        # meanwhile): acknowledged, so Stripe stops retrying, and left to staff to refund.
        logger.error(
            "stripe payment needs attention",
            extra={"order_id": order.pk, "reference": reference, "code": error.code},
        )
        return "needs_attention"
    return "settled"


def _already_settled(reference: str) -> bool:
    return Payment.objects.filter(
        provider=PROVIDER, provider_reference=reference, status=PaymentStatus.SUCCEEDED
    ).exists()


def _on_session_failed(session: _Json) -> str:
    """An expired or failed Checkout Session: the payment failed, and its pending order too."""
    from simcare.orders.services import ordering

    reference = str(session["id"])
    code = "checkout_expired" if session.get("status") == "expired" else "payment_failed"
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .filter(provider=PROVIDER, provider_reference=reference)
            .first()
        )
        if payment is None or payment.status != PaymentStatus.PENDING:
            return "ignored"
        _mark_failed(payment, code)
        order = Order.objects.select_for_update().get(pk=payment.order_id)
        if order.state == OrderState.PENDING:
            ordering.fail_order(order, code=code)
    return "failed"


def _mark_failed(payment: Payment, code: str) -> None:
    payment.status = PaymentStatus.FAILED
    payment.failure_code = code[:60]
    payment.completed_at = timezone.now()
    payment.save(update_fields=["status", "failure_code", "completed_at"])


def _on_setup_intent_succeeded(setup_intent: _Json) -> str:
    metadata = _mapping(setup_intent.get("metadata"))
    subscriber_id = str(metadata.get("subscriber_id") or "")
    method_id = setup_intent.get("payment_method")
    if isinstance(method_id, dict):
        method_id = method_id.get("id")
    customer_id = setup_intent.get("customer")
    if not subscriber_id.isdigit() or not method_id or not customer_id:
        return "ignored"
    subscriber = Subscriber.objects.filter(pk=int(subscriber_id)).first()
    if subscriber is None:
        return "ignored"
    if SavedPaymentMethod.objects.filter(provider=PROVIDER, method_reference=method_id).exists():
        return "duplicate"
    try:
        card_method = _client().v1.payment_methods.retrieve(str(method_id))
    except stripe.StripeError as error:
        _log_failure("retrieve_payment_method", None, error)
        raise _provider_error(error) from error
    card = card_method.card
    save_payment_method(
        subscriber,
        customer_reference=str(customer_id),
        method_reference=str(method_id),
        brand=card.brand if card else "",
        last4=card.last4 if card else "",
        exp_month=card.exp_month if card else None,
        exp_year=card.exp_year if card else None,
    )
    return "saved"


@transaction.atomic
def save_payment_method(
    subscriber: Subscriber,
    *,
    customer_reference: str,
    method_reference: str,
    brand: str,
    last4: str,
    exp_month: int | None,
    exp_year: int | None,
) -> SavedPaymentMethod:
    """Keep what a saved card shows (never its number) as the subscriber's default card."""
    Subscriber.objects.select_for_update().filter(pk=subscriber.pk).first()
    method, created = SavedPaymentMethod.objects.get_or_create(
        provider=PROVIDER,
        method_reference=method_reference,
        defaults={
            "subscriber": subscriber,
            "customer_reference": customer_reference,
            "brand": brand[:20],
            "last4": last4[-4:],
            "exp_month": exp_month,
            "exp_year": exp_year,
            "is_default": True,
        },
    )
    if created:
        SavedPaymentMethod.objects.filter(subscriber=subscriber, is_default=True).exclude(
            pk=method.pk
        ).update(is_default=False)
    return method


def _detach(method_reference: str) -> None:
    """Detach a saved card at Stripe; one Stripe no longer knows counts as detached."""
    try:
        _client().v1.payment_methods.detach(method_reference)
    except stripe.InvalidRequestError as error:
        if error.code != "resource_missing":
            raise _provider_error(error) from error
    except stripe.StripeError as error:
        _log_failure("detach", None, error)
        raise _provider_error(error) from error


def detach_quietly(method_references: list[str]) -> int:
    """Detach cards already removed here (an account closure, after it committed): each
    failure is logged for an operator to finish in Stripe's dashboard, none is raised.
    Returns how many were detached."""
    if not is_configured():
        return 0
    detached = 0
    for reference in method_references:
        try:
            _detach(reference)
        except errors.PaymentProviderError:
            logger.warning("saved card left at stripe", extra={"method_reference": reference})
        else:
            detached += 1
    return detached


def remove_saved_method(method: SavedPaymentMethod, *, acting_user: User | None) -> None:
    """Forget a saved card: detach it at Stripe, then stop offering it and stop auto-renew
    from charging it (its lines fall back to the wallet). Removing twice is a no-op; a card
    Stripe no longer knows is removed here all the same. Another saved card, the newest,
    becomes the default."""
    if method.removed_at is not None:
        return
    if is_configured():
        _detach(method.method_reference)
    with transaction.atomic():
        Subscriber.objects.select_for_update().filter(pk=method.subscriber_id).first()
        changed = SavedPaymentMethod.objects.filter(pk=method.pk, removed_at__isnull=True).update(
            removed_at=timezone.now(), is_default=False
        )
        if not changed:
            return
        AutoRenewSetting.objects.filter(payment_method=method).update(payment_method=None)
        if method.is_default:
            newest = (
                SavedPaymentMethod.objects.filter(
                    subscriber_id=method.subscriber_id, removed_at__isnull=True
                )
                .order_by("-created_at", "-pk")
                .first()
            )
            if newest is not None:
                SavedPaymentMethod.objects.filter(pk=newest.pk).update(is_default=True)
        record_audit(
            "orders.saved_card_removed",
            actor=acting_user,
            target=method,
            brand=method.brand,
            last4=method.last4,
        )


def _on_payment_intent_succeeded(intent: _Json) -> str:
    metadata = _mapping(intent.get("metadata"))
    if metadata.get("purpose") != "off_session":
        return "ignored"  # a Checkout payment's intent: its session's event settles it
    return _settle_from_stripe(intent, reference=str(intent["id"]))


def _on_payment_intent_failed(intent: _Json) -> str:
    metadata = _mapping(intent.get("metadata"))
    if metadata.get("purpose") != "off_session":
        return "ignored"
    error = _mapping(intent.get("last_payment_error"))
    code = str(error.get("decline_code") or error.get("code") or "card_declined")
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .filter(provider=PROVIDER, provider_reference=str(intent["id"]))
            .first()
        )
        if payment is None or payment.status != PaymentStatus.PENDING:
            return "ignored"
        _mark_failed(payment, code)
    return "failed"


_EVENT_HANDLERS: dict[str, Callable[[_Json], str]] = {
    "checkout.session.completed": _on_session_completed,
    "checkout.session.async_payment_succeeded": _on_session_async_succeeded,
    "checkout.session.expired": _on_session_failed,
    "checkout.session.async_payment_failed": _on_session_failed,
    "setup_intent.succeeded": _on_setup_intent_succeeded,
    "payment_intent.succeeded": _on_payment_intent_succeeded,
    "payment_intent.payment_failed": _on_payment_intent_failed,
}


# --- saved cards for auto-renew -------------------------------------------------------------


def start_card_setup(subscriber: Subscriber, *, success_url: str, cancel_url: str) -> str:
    """The URL of Stripe's page where the subscriber saves a card (Checkout in setup mode).

    The card is recorded when Stripe's setup_intent.succeeded webhook arrives.
    """
    client = _client()
    customer_reference = _customer_reference(client, subscriber)
    try:
        session = client.v1.checkout.sessions.create(
            params={  # type: ignore[arg-type]
                "mode": "setup",
                "currency": CURRENCY.lower(),
                "payment_method_types": ["card"],
                "customer": customer_reference,
                "client_reference_id": f"subscriber-{subscriber.pk}",
                "metadata": {"subscriber_id": str(subscriber.pk)},
                "setup_intent_data": {"metadata": {"subscriber_id": str(subscriber.pk)}},
                "locale": _stripe_locale(subscriber.user.language),
                "success_url": success_url,
                "cancel_url": cancel_url,
            }
        )
    except stripe.StripeError as error:
        _log_failure("card_setup", None, error)
        raise _provider_error(error) from error
    return session.url or ""


def _customer_reference(client: stripe.StripeClient, subscriber: Subscriber) -> str:
    """The subscriber's Stripe Customer: the one behind a saved card, or a new one."""
    known = (
        SavedPaymentMethod.objects.filter(subscriber=subscriber, provider=PROVIDER)
        .exclude(customer_reference="")
        .order_by("-created_at")
        .values_list("customer_reference", flat=True)
        .first()
    )
    if known:
        return known
    try:
        customer = client.v1.customers.create(
            params={"metadata": {"subscriber_id": str(subscriber.pk)}},
            options={"idempotency_key": f"simcare-customer-subscriber-{subscriber.pk}"},
        )
    except stripe.StripeError as error:
        _log_failure("customer", None, error)
        raise _provider_error(error) from error
    return customer.id


def charge_saved_method(order: Order, method: SavedPaymentMethod) -> Payment:
    """Charge a pending card order to a saved card, off session (the auto-renew job).

    Succeeded: the order is settled now and the Payment returned succeeded. Declined or
    needing the customer (3-D Secure): the Payment is returned failed with its code and
    the order stays pending for the caller to fail or retry another way. A network or
    Stripe-side failure raises errors.PaymentProviderUnavailable (retryable): the
    idempotency key makes the next try find this charge rather than make a second one.
    """
    if order.state != OrderState.PENDING or method.removed_at is not None:
        raise errors.PaymentMethodUnavailable()
    if method.provider != PROVIDER or method.subscriber_id != order.subscriber_id:
        raise errors.PaymentMethodUnavailable()
    client = _client()
    try:
        intent = client.v1.payment_intents.create(
            params={
                "amount": order.total_cents,
                "currency": CURRENCY.lower(),
                "customer": method.customer_reference,
                "payment_method": method.method_reference,
                "off_session": True,
                "confirm": True,
                "description": order.number,
                "metadata": {"order_id": str(order.pk), "purpose": "off_session"},
            },
            options={"idempotency_key": f"simcare-charge-order-{order.pk}"},
        )
    except stripe.CardError as error:
        _log_failure("charge", order.pk, error)
        return _declined_payment(order, error)
    except stripe.StripeError as error:
        _log_failure("charge", order.pk, error)
        raise _provider_error(error) from error
    payment = _record_payment(
        order, method=PaymentMethod.CARD, reference=intent.id, amount_cents=order.total_cents
    )
    if intent.status == "succeeded":
        _settle_from_stripe(
            {
                "id": intent.id,
                "amount_received": intent.amount_received or intent.amount,
                "metadata": {"order_id": str(order.pk)},
            },
            reference=intent.id,
        )
        payment.refresh_from_db()
        return payment
    if intent.status == "processing":
        return payment  # payment_intent.succeeded or payment_failed will tell
    code = _AUTHENTICATION_REQUIRED if intent.status == "requires_action" else "card_declined"
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status == PaymentStatus.PENDING:
            _mark_failed(payment, code)
    return payment


def _declined_payment(order: Order, error: stripe.CardError) -> Payment:
    intent = _error_detail(error).get("payment_intent")
    intent_id = intent.get("id") if isinstance(intent, dict) else None
    reference = str(intent_id or f"declined-order-{order.pk}")
    payment = _record_payment(
        order, method=PaymentMethod.CARD, reference=reference, amount_cents=order.total_cents
    )
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status == PaymentStatus.PENDING:
            _mark_failed(payment, _decline_code(error))
    return payment


# --- refunds ---------------------------------------------------------------------------------


def refund_payment(payment: Payment, amount_cents: int, *, idempotency_key: str) -> str:
    """Refund amount_cents of a succeeded card payment at Stripe; returns the Refund id.

    Only the provider call: the caller (ordering.refund_order) does the bookkeeping.
    The same idempotency_key twice refunds once.
    """
    if payment.provider != PROVIDER or payment.status not in {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.REFUNDED,
    }:
        raise errors.PaymentMethodUnavailable()
    if amount_cents <= 0 or amount_cents > payment.amount_cents - payment.refunded_cents:
        raise errors.PaymentProviderError()
    client = _client()
    try:
        intent_id = payment.provider_reference
        if not intent_id.startswith("pi_"):
            session = client.v1.checkout.sessions.retrieve(intent_id)
            payment_intent = session.payment_intent
            intent_id = payment_intent if isinstance(payment_intent, str) else payment_intent.id  # type: ignore[union-attr]
        refund = client.v1.refunds.create(
            params={
                "payment_intent": intent_id,
                "amount": amount_cents,
                "metadata": {"order_id": str(payment.order_id), "payment_id": str(payment.pk)},
            },
            options={"idempotency_key": f"simcare-refund-{idempotency_key}"},
        )
    except stripe.StripeError as error:
        _log_failure("refund", payment.order_id, error)
        raise _provider_error(error) from error
    return refund.id
