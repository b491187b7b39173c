"""Buying a new eSIM line from the plan catalog: plan → pay (wallet, voucher, card) → the new
line's eSIM page with its QR code."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.catalog.queries import plans_on_sale
from simcare.kit.problems import DomainError
from simcare.ledger import queries as ledger_queries
from simcare.lines.models import SimKind
from simcare.orders.models import Order, OrderKind, SalesChannel
from simcare.orders.services import ordering
from simcare.portal import checkout
from simcare.portal.access import form_token, signed_in_user, subscriber_view
from simcare.portal.display import price_view


def _plan(code: str) -> Plan:
    plan = plans_on_sale().filter(code=code).first()
    if plan is None:
        raise Http404
    return plan


def _page(
    request: HttpRequest,
    subscriber: Subscriber,
    plan: Plan,
    *,
    token: str,
    error: str | None = None,
) -> HttpResponse:
    price = refusal = None
    try:
        price = price_view(
            ordering.quote(
                kind=OrderKind.NEW_LINE,
                channel=SalesChannel.WEB,
                subscriber=subscriber,
                plan=plan,
                sim_kind=SimKind.ESIM,
            ),
            names={plan.code: plan.name},
        )
    except DomainError as problem:
        refusal = problem.message
    choices = checkout.payment_choices()
    context: dict[str, Any] = {
        "plan": plan,
        "price": price,
        "refusal": refusal,
        "choices": [(choice, checkout.choice_label(choice)) for choice in choices],
        "chosen": request.POST.get("method", choices[0] if choices else ""),
        "token": token,
        "balance_cents": ledger_queries.wallet_balance_cents(subscriber),
        "error": error,
        "nav": "dashboard",
    }
    return render(request, "portal/buy.html", context)


@subscriber_view
@require_http_methods(["GET", "POST"])
def buy_esim(request: HttpRequest, subscriber: Subscriber, plan_code: str) -> HttpResponse:
    plan = _plan(plan_code)
    token = form_token(request)
    if request.method == "GET":
        return _page(request, subscriber, plan, token=token)
    user = signed_in_user(request)

    def place(method: str, key: str) -> Order:
        return ordering.place_order(
            kind=OrderKind.NEW_LINE,
            channel=SalesChannel.WEB,
            subscriber=subscriber,
            payment_method=method,
            idempotency_key=key,
            acting_user=user,
            plan=plan,
            sim_kind=SimKind.ESIM,
        )

    outcome = checkout.pay(
        request,
        subscriber,
        choice=request.POST.get("method", ""),
        token=token,
        pin=request.POST.get("pin", ""),
        place=place,
    )
    if isinstance(outcome, str):
        return _page(request, subscriber, plan, token=token, error=outcome)
    if outcome.redirect_url:
        return checkout.to_provider(request, outcome.redirect_url)
    order = outcome.order
    if order.line is not None:
        return redirect("portal:esim", msisdn=order.line.msisdn)
    return redirect("portal:order_done", order_id=order.pk)
