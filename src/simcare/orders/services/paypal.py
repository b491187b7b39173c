"""PayPal payments through the Orders v2 API (paypal-server-sdk): create, approve, capture.

An order paid by PayPal is paid only when PayPal confirms the capture: the capture
call's answer (the buyer's return from PayPal) or the verified
PAYMENT.CAPTURE.COMPLETED webhook, whichever comes first. Both settle with the
PayPal order id as the reference, so the second finds the order settled.

Webhooks are verified the way PayPal documents it: by asking PayPal's
verify-webhook-signature API whether the headers and body belong to our webhook id.
That endpoint is not part of the SDK; it is called with the SDK's OAuth token.

Outbound calls run outside database transactions, with a timeout and a
PayPal-Request-Id derived from the order, so a retry finds PayPal's first answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import requests
from apimatic_core.exceptions.auth_validation_exception import AuthValidationException
from django.conf import settings
from django.db import IntegrityError, transaction
from paypalserversdk.configuration import Configuration, Environment, Server
from paypalserversdk.exceptions.api_exception import ApiException
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.models.amount_with_breakdown import AmountWithBreakdown
from paypalserversdk.models.checkout_payment_intent import CheckoutPaymentIntent
from paypalserversdk.models.money import Money
from paypalserversdk.models.order_request import OrderRequest
from paypalserversdk.models.payment_source import PaymentSource
from paypalserversdk.models.paypal_wallet import PaypalWallet
from paypalserversdk.models.paypal_wallet_experience_context import (
    PaypalWalletExperienceContext,
)
from paypalserversdk.models.purchase_unit_request import PurchaseUnitRequest
from paypalserversdk.models.refund_request import RefundRequest
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from simcare.kit.money import CURRENCY
from simcare.orders import errors
from simcare.orders.models import Order, OrderState, Payment, PaymentMethod, PaymentStatus

logger = logging.getLogger(__name__)

PROVIDER = "paypal"
_Json = dict[str, Any]
# PayPal's names for a buyer's funding being refused: final, another method is needed.
_DECLINES = {
    "INSTRUMENT_DECLINED",
    "PAYER_ACTION_REQUIRED",
    "PAYER_CANNOT_PAY",
    "TRANSACTION_REFUSED",
}
_ENVIRONMENTS = {"sandbox": Environment.SANDBOX, "production": Environment.PRODUCTION}


def is_configured() -> bool:
    """PayPal is offered only with the client id, its secret and the webhook id set."""
    return bool(
        settings.SIMCARE_PAYPAL_CLIENT_ID
        and settings.SIMCARE_PAYPAL_CLIENT_SECRET
        and settings.SIMCARE_PAYPAL_WEBHOOK_ID
    )


class _Configuration(Configuration):
    """The SDK's configuration with one base URL for every server (a stand-in, a proxy)."""

    base_url = ""

    def get_base_uri(self, server: Any = Server.DEFAULT) -> str:
        return self.base_url or str(super().get_base_uri(server))


def _base_url() -> str:
    if settings.SIMCARE_PAYPAL_API_BASE:
        return str(settings.SIMCARE_PAYPAL_API_BASE).rstrip("/")
    return str(Configuration.environments[_environment()][Server.DEFAULT])


def _environment() -> Environment:
    return _ENVIRONMENTS.get(str(settings.SIMCARE_PAYPAL_ENVIRONMENT).lower(), Environment.SANDBOX)


_clients: dict[tuple[str, str, str], PaypalServersdkClient] = {}


def _client() -> PaypalServersdkClient:
    """One SDK client per credentials and base URL, so its OAuth token is reused."""
    if not is_configured():
        raise errors.PaymentMethodUnavailable()
    key = (settings.SIMCARE_PAYPAL_CLIENT_ID, settings.SIMCARE_PAYPAL_CLIENT_SECRET, _base_url())
    client = _clients.get(key)
    if client is None:
        config = _Configuration(
            timeout=settings.SIMCARE_PAYMENT_PROVIDER_TIMEOUT,
            max_retries=0,
            environment=_environment(),
            client_credentials_auth_credentials=ClientCredentialsAuthCredentials(
                o_auth_client_id=settings.SIMCARE_PAYPAL_CLIENT_ID,
                o_auth_client_secret=settings.SIMCARE_PAYPAL_CLIENT_SECRET,
            ),
        )
        config.base_url = _base_url()
        client = PaypalServersdkClient(config=config)
        _clients[key] = client
    return client


def _provider_error(error: Exception) -> errors.PaymentProviderError:
    """Our error type for a PayPal failure: retryable (network, 5xx, 429, no token) or final."""
    if isinstance(error, requests.RequestException | AuthValidationException):
        return errors.PaymentProviderUnavailable()
    if isinstance(error, ApiException):
        status = error.response_code or 0
        if status >= 500 or status in {408, 429}:
            return errors.PaymentProviderUnavailable()
        issue = _issue(error)
        if issue in _DECLINES:
            return errors.PaymentDeclined(decline_code=issue)
        return errors.PaymentProviderError(paypal_issue=issue)
    return errors.PaymentProviderError()


def _issue(error: ApiException) -> str:
    """PayPal's issue code of a refusal (details[0].issue), e.g. "INSTRUMENT_DECLINED"."""
    try:
        body = json.loads(error.response.text or "{}")
    except (ValueError, AttributeError):
        return ""
    details = body.get("details") if isinstance(body, dict) else None
    if isinstance(details, list) and details and isinstance(details[0], dict):
        return str(details[0].get("issue") or "")[:60]
    return str(body.get("name") or "")[:60] if isinstance(body, dict) else ""


def _log_failure(action: str, order_id: int | None, error: Exception) -> None:
    logger.warning(
        "paypal call failed",
        extra={
            "action": action,
            "order_id": order_id,
            "error_type": type(error).__name__,
            "http_status": getattr(error, "response_code", None),
            "paypal_issue": _issue(error) if isinstance(error, ApiException) else "",
        },
    )


def _call(action: str, order_id: int | None, function: Any, options: Mapping[str, Any]) -> Any:
    try:
        return function(dict(options)).body
    except (ApiException, requests.RequestException, AuthValidationException) as error:
        _log_failure(action, order_id, error)
        raise _provider_error(error) from error


def _value(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _cents(value: object) -> int:
    """PayPal's "33.90" → 3390; anything that is not such an amount → 0."""
    whole, _dot, fraction = str(value or "0").partition(".")
    if not whole.isdigit() or not (fraction + "00")[:2].isdigit():
        return 0
    return int(whole) * 100 + int((fraction + "00")[:2])


# --- checkout ---------------------------------------------------------------------------------


def start_checkout(order: Order, *, return_url: str, cancel_url: str) -> Payment:
    """The PayPal order that collects a pending PayPal order's total; its approve link is the
    Payment's redirect_url. Calling it again for the same order returns the same Payment."""
    if order.state != OrderState.PENDING or order.payment_method != PaymentMethod.PAYPAL:
        raise errors.PaymentMethodUnavailable()
    existing = (
        Payment.objects.filter(order=order, provider=PROVIDER, status=PaymentStatus.PENDING)
        .order_by("id")
        .first()
    )
    if existing is not None:
        return existing
    client = _client()
    body = OrderRequest(
        intent=CheckoutPaymentIntent.CAPTURE,
        purchase_units=[
            PurchaseUnitRequest(
                reference_id=str(order.pk),
                custom_id=str(order.pk),
                invoice_id=order.number,
                description=order.number,
                amount=AmountWithBreakdown(currency_code=CURRENCY, value=_value(order.total_cents)),
            )
        ],
        payment_source=PaymentSource(
            paypal=PaypalWallet(
                experience_context=PaypalWalletExperienceContext(
                    return_url=return_url,
                    cancel_url=cancel_url,
                    shipping_preference="NO_SHIPPING",
                    user_action="PAY_NOW",
                    locale=_paypal_locale(order.language),
                )
            )
        ),
    )
    paypal_order = _call(
        "create_order",
        order.pk,
        client.orders.create_order,
        {"body": body, "paypal_request_id": f"simcare-order-{order.pk}"},
    )
    links = getattr(paypal_order, "links", None) or []
    approve = next(
        (link.href for link in links if getattr(link, "rel", "") in {"payer-action", "approve"}),
        "",
    )
    try:
        with transaction.atomic():
            payment, _created = Payment.objects.get_or_create(
                provider=PROVIDER,
                provider_reference=str(paypal_order.id),
                defaults={
                    "order": order,
                    "method": PaymentMethod.PAYPAL,
                    "amount_cents": order.total_cents,
                    "redirect_url": approve,
                },
            )
    except IntegrityError:
        payment = Payment.objects.get(provider=PROVIDER, provider_reference=str(paypal_order.id))
    return payment


def _paypal_locale(language: str) -> str:
    return {"fr": "fr-CA", "zh-hans": "zh-CN"}.get(language, "en-CA")


def capture(order_or_reference: Order | str, *, reference: str = "") -> Order:
    """Capture the approved PayPal order of a pending order; settled when PayPal says COMPLETED.

    Takes our Order (its pending PayPal payment) or PayPal's order id (the token on the
    return URL). Returns the order, settled or still pending (a capture PayPal holds as
    PENDING settles on its webhook). Declines raise errors.PaymentDeclined. With an Order
    and reference (the return URL's token), the token must be that order's PayPal order.
    """
    payment = _payment_for(order_or_reference)
    if reference and payment.provider_reference != reference:
        raise errors.PaymentMethodUnavailable()
    order = Order.objects.get(pk=payment.order_id)
    if payment.status == PaymentStatus.SUCCEEDED or order.state != OrderState.PENDING:
        return order
    client = _client()
    try:
        paypal_order = client.orders.capture_order(
            {
                "id": payment.provider_reference,
                "paypal_request_id": f"simcare-capture-{payment.provider_reference}",
                "prefer": "return=representation",
            }
        ).body
    except ApiException as error:
        if _issue(error) != "ORDER_ALREADY_CAPTURED":
            _log_failure("capture", order.pk, error)
            raise _provider_error(error) from error
        # Captured by another path (a webhook's settle racing this return): read it back.
        paypal_order = _call(
            "get_order", order.pk, client.orders.get_order, {"id": payment.provider_reference}
        )
    except (requests.RequestException, AuthValidationException) as error:
        _log_failure("capture", order.pk, error)
        raise _provider_error(error) from error
    captured = _completed_capture(paypal_order)
    if captured is None:
        return order
    return _settle(order, reference=payment.provider_reference, amount_cents=captured)


def _payment_for(order_or_reference: Order | str) -> Payment:
    payments = Payment.objects.filter(provider=PROVIDER)
    if isinstance(order_or_reference, Order):
        payment = (
            payments.filter(order=order_or_reference)
            .exclude(status__in=[PaymentStatus.FAILED, PaymentStatus.CANCELLED])
            .order_by("-id")
            .first()
        )
    else:
        payment = payments.filter(provider_reference=order_or_reference).first()
    if payment is None:
        raise errors.PaymentMethodUnavailable()
    return payment


def _completed_capture(paypal_order: Any) -> int | None:
    """The captured cents when PayPal reports the order and its capture COMPLETED."""
    if str(getattr(paypal_order, "status", "")) != "COMPLETED":
        return None
    total = 0
    for unit in getattr(paypal_order, "purchase_units", None) or []:
        payments = getattr(unit, "payments", None)
        for captured in getattr(payments, "captures", None) or []:
            if str(getattr(captured, "status", "")) == "COMPLETED":
                amount = getattr(captured, "amount", None)
                total += _cents(getattr(amount, "value", None))
    return total or None


def _settle(order: Order, *, reference: str, amount_cents: int) -> Order:
    from simcare.orders.services import ordering

    if Payment.objects.filter(
        provider=PROVIDER, provider_reference=reference, status=PaymentStatus.SUCCEEDED
    ).exists():
        return Order.objects.get(pk=order.pk)
    try:
        return ordering.settle_order(
            order, provider=PROVIDER, provider_reference=reference, amount_cents=amount_cents
        )
    except errors.OrderError as error:
        # Money PayPal took that the order cannot take (wrong amount, order closed
        # meanwhile): acknowledged, so PayPal stops retrying, and left to staff to refund.
        logger.error(
            "paypal payment needs attention",
            extra={"order_id": order.pk, "reference": reference, "code": error.code},
        )
        return Order.objects.get(pk=order.pk)


# --- webhooks -------------------------------------------------------------------------------

_SIGNATURE_HEADERS = {
    "auth_algo": "paypal-auth-algo",
    "cert_url": "paypal-cert-url",
    "transmission_id": "paypal-transmission-id",
    "transmission_sig": "paypal-transmission-sig",
    "transmission_time": "paypal-transmission-time",
}


def handle_webhook(headers: Mapping[str, str], payload: bytes) -> str:
    """Verify one PayPal webhook with PayPal and apply it; returns what was done.

    headers: the request's headers, any case. Raises errors.WebhookSignatureInvalid
    when PayPal does not vouch for it, errors.PaymentProviderUnavailable when PayPal
    cannot be asked (PayPal then delivers again).
    """
    if not is_configured():
        raise errors.WebhookSignatureInvalid()
    lowered = {key.lower(): value for key, value in headers.items()}
    try:
        event = json.loads(payload)
    except ValueError as error:
        raise errors.WebhookSignatureInvalid() from error
    fields = {name: lowered.get(header, "") for name, header in _SIGNATURE_HEADERS.items()}
    if not isinstance(event, dict) or not all(fields.values()):
        raise errors.WebhookSignatureInvalid()
    _verify(fields, event)
    if event.get("event_type") != "PAYMENT.CAPTURE.COMPLETED":
        return "ignored"
    resource = event.get("resource")
    if not isinstance(resource, dict) or resource.get("status") != "COMPLETED":
        return "ignored"
    return _on_capture_completed(resource)


def _verify(fields: dict[str, str], event: _Json) -> None:
    client = _client()
    try:
        token = client.oauth_2.fetch_token()
        response = requests.post(
            f"{_base_url()}/v1/notifications/verify-webhook-signature",
            json={
                **fields,
                "webhook_id": settings.SIMCARE_PAYPAL_WEBHOOK_ID,
                "webhook_event": event,
            },
            headers={"Authorization": f"Bearer {token.access_token}"},
            timeout=settings.SIMCARE_PAYMENT_PROVIDER_TIMEOUT,
        )
    except (ApiException, requests.RequestException, AttributeError) as error:
        logger.warning(
            "paypal webhook verification unavailable", extra={"error": type(error).__name__}
        )
        raise errors.PaymentProviderUnavailable() from error
    if response.status_code >= 500 or response.status_code == 429:
        raise errors.PaymentProviderUnavailable()
    try:
        status = response.json().get("verification_status")
    except (ValueError, AttributeError):
        status = None
    if status != "SUCCESS":
        raise errors.WebhookSignatureInvalid()


def _on_capture_completed(resource: _Json) -> str:
    supplementary = resource.get("supplementary_data") or {}
    related = supplementary.get("related_ids") or {} if isinstance(supplementary, dict) else {}
    reference = str(related.get("order_id") or "") if isinstance(related, dict) else ""
    payment = None
    if reference:
        payment = Payment.objects.filter(provider=PROVIDER, provider_reference=reference).first()
    custom_id = str(resource.get("custom_id") or "")
    if payment is None and custom_id.isdigit():
        payment = (
            Payment.objects.filter(provider=PROVIDER, order_id=int(custom_id))
            .exclude(status__in=[PaymentStatus.FAILED, PaymentStatus.CANCELLED])
            .order_by("-id")
            .first()
        )
    if payment is None:
        return "ignored"
    if payment.status == PaymentStatus.SUCCEEDED:
        return "duplicate"
    amount = resource.get("amount") or {}
    cents = _cents(amount.get("value") if isinstance(amount, dict) else None)
    order = Order.objects.get(pk=payment.order_id)
    _settle(order, reference=payment.provider_reference, amount_cents=cents)
    return "settled"


# --- refunds --------------------------------------------------------------------------------


def refund_payment(payment: Payment, amount_cents: int, *, idempotency_key: str) -> str:
    """Refund amount_cents of a captured PayPal payment; returns PayPal's refund id.

    Only the provider call: the caller (ordering.refund_order) does the bookkeeping.
    The same idempotency_key twice refunds once (PayPal-Request-Id).
    """
    if payment.provider != PROVIDER or payment.status not in {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.REFUNDED,
    }:
        raise errors.PaymentMethodUnavailable()
    if amount_cents <= 0 or amount_cents > payment.amount_cents - payment.refunded_cents:
        raise errors.PaymentProviderError()
    client = _client()
    paypal_order = _call(
        "get_order", payment.order_id, client.orders.get_order, {"id": payment.provider_reference}
    )
    capture_id = ""
    for unit in getattr(paypal_order, "purchase_units", None) or []:
        for captured in getattr(getattr(unit, "payments", None), "captures", None) or []:
            capture_id = capture_id or str(getattr(captured, "id", "") or "")
    if not capture_id:
        raise errors.PaymentProviderError()
    refund = _call(
        "refund",
        payment.order_id,
        client.payments.refund_captured_payment,
        {
            "capture_id": capture_id,
            "paypal_request_id": f"simcare-refund-{idempotency_key}",
            "body": RefundRequest(amount=Money(currency_code=CURRENCY, value=_value(amount_cents))),
        },
    )
    return str(refund.id)
