"""Payment entry points: the providers' webhooks and the pages a buyer returns to.

Webhooks are thin: the raw body and the signature headers go to the provider's
service, which verifies them; the answer is 200 (applied or ignored), 400 (not
signed by the provider; it is not retried) or 503 (we could not verify now; the
provider delivers again). Nothing from the request is logged.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from simcare.accounts.models import User
from simcare.kit.navigation import to_provider
from simcare.orders import errors
from simcare.orders.models import Order, OrderState, Payment, PaymentMethod
from simcare.orders.queries import own_order_for
from simcare.orders.services import cards, paypal

logger = logging.getLogger(__name__)


def _webhook_answer(outcome: str) -> HttpResponse:
    return JsonResponse({"outcome": outcome})


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    try:
        outcome = cards.handle_webhook(request.body, request.headers.get("Stripe-Signature", ""))
    except errors.WebhookSignatureInvalid as error:
        return JsonResponse({"code": error.code}, status=400)
    except errors.PaymentProviderError as error:
        return JsonResponse({"code": error.code}, status=503 if error.retryable else 400)
    return _webhook_answer(outcome)


@csrf_exempt
@require_POST
def paypal_webhook(request: HttpRequest) -> HttpResponse:
    try:
        outcome = paypal.handle_webhook(dict(request.headers), request.body)
    except errors.WebhookSignatureInvalid as error:
        return JsonResponse({"code": error.code}, status=400)
    except errors.PaymentProviderError as error:
        return JsonResponse({"code": error.code}, status=503 if error.retryable else 400)
    return _webhook_answer(outcome)


def _own_order(request: HttpRequest, order_id: int) -> Order:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 (login_required ran)
    try:
        return own_order_for(user, order_id)
    except Order.DoesNotExist as error:
        raise Http404 from error


@login_required
@require_GET
def payment_return(request: HttpRequest, order_id: int) -> HttpResponse:
    """Where Stripe sends the buyer after paying: the order's state, no polling."""
    order = _own_order(request, order_id)
    return render(
        request,
        "orders/payment_return.html",
        {
            "order": order,
            "is_pending": order.state == OrderState.PENDING,
            "is_done": order.state in {OrderState.PAID, OrderState.FULFILLED},
            "can_pay": _can_pay(order),
        },
    )


@login_required
@require_GET
def paypal_return(request: HttpRequest, order_id: int) -> HttpResponse:
    """Where PayPal sends the buyer after approving: capture now, then show the order."""
    order = _own_order(request, order_id)
    token = request.GET.get("token", "")
    if order.state == OrderState.PENDING and token and paypal.is_configured():
        try:
            paypal.capture(order, reference=token)
        except errors.PaymentDeclined:
            messages.error(
                request, _("PayPal declined the payment. Please choose another way to pay.")
            )
        except errors.PaymentProviderUnavailable:
            messages.warning(
                request,
                _(
                    "We could not reach PayPal just now. Your payment will be confirmed "
                    "as soon as PayPal tells us."
                ),
            )
        except errors.OrderError as error:
            messages.error(request, error.message)
    return redirect("orders:payment_return", order_id=order.pk)


@login_required
@require_GET
def payment_cancelled(request: HttpRequest, order_id: int) -> HttpResponse:
    """Where the providers send a buyer who turned back: nothing was charged."""
    order = _own_order(request, order_id)
    return render(
        request, "orders/payment_cancelled.html", {"order": order, "can_pay": _can_pay(order)}
    )


def _can_pay(order: Order) -> bool:
    if order.state != OrderState.PENDING:
        return False
    if order.payment_method == PaymentMethod.CARD:
        return cards.is_configured()
    return order.payment_method == PaymentMethod.PAYPAL and paypal.is_configured()


@require_POST
@login_required
def pay(request: HttpRequest, order_id: int) -> HttpResponse:
    """Send the buyer to the provider's page for a pending card or PayPal order (303 away)."""
    order = _own_order(request, order_id)
    if order.state != OrderState.PENDING:
        return redirect("orders:payment_return", order_id=order.pk)

    def absolute(name: str) -> str:
        return request.build_absolute_uri(reverse(name, kwargs={"order_id": order.pk}))

    cancel_url = absolute("orders:payment_cancelled")
    payment: Payment
    try:
        if order.payment_method == PaymentMethod.CARD:
            payment = cards.start_checkout(
                order, success_url=absolute("orders:payment_return"), cancel_url=cancel_url
            )
        elif order.payment_method == PaymentMethod.PAYPAL:
            payment = paypal.start_checkout(
                order, return_url=absolute("orders:paypal_return"), cancel_url=cancel_url
            )
        else:
            raise errors.PaymentMethodUnavailable()
    except errors.OrderError as error:
        messages.error(request, error.message)
        return redirect("orders:payment_return", order_id=order.pk)
    if not payment.redirect_url:
        messages.error(request, errors.PaymentProviderError().message)
        return redirect("orders:payment_return", order_id=order.pk)
    return to_provider(request, payment.redirect_url)
