"""The renewal flow: plan preselected, upgrade or downgrade, coupon with a live quote (htmx),
pay by wallet, voucher PIN or card, then the confirmation page with the receipt links."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.catalog.queries import plans_on_sale
from simcare.kit.problems import DomainError
from simcare.ledger import queries as ledger_queries
from simcare.lines.models import Line
from simcare.orders.models import Order, OrderKind, Receipt, SalesChannel
from simcare.orders.queries import own_order_for
from simcare.orders.services import ordering
from simcare.portal import checkout
from simcare.portal.access import form_token, own_line, signed_in_user, subscriber_view
from simcare.portal.display import PriceView, price_view

MAX_COUPON_LENGTH = 40


def renewal_plans(line: Line) -> list[Plan]:
    """The plans a line may renew on: those on sale, its own first even if withdrawn."""
    plans = [plan for plan in plans_on_sale() if plan.pk != line.plan_id]
    return [line.plan, *plans]


def _chosen_plan(request: HttpRequest, line: Line) -> Plan:
    code = request.POST.get("plan") or request.GET.get("plan") or line.plan.code
    for plan in renewal_plans(line):
        if plan.code == code:
            return plan
    return line.plan


def _coupon(request: HttpRequest) -> str:
    source = request.POST if request.method == "POST" else request.GET
    return source.get("coupon", "").strip()[:MAX_COUPON_LENGTH]


def renewal_quote(
    subscriber: Subscriber, line: Line, plan: Plan, coupon: str
) -> tuple[PriceView | None, str | None]:
    """The price laid out, or the reason it cannot be sold (an expired coupon, …)."""
    try:
        quote = ordering.quote(
            kind=OrderKind.RENEWAL,
            channel=SalesChannel.WEB,
            subscriber=subscriber,
            plan=plan,
            line=line,
            coupon_code=coupon,
        )
    except DomainError as error:
        return None, error.message
    return price_view(quote, names={plan.code: plan.name}), None


def _page(
    request: HttpRequest,
    subscriber: Subscriber,
    line: Line,
    *,
    token: str,
    error: str | None = None,
) -> HttpResponse:
    plan = _chosen_plan(request, line)
    coupon = _coupon(request)
    price, refusal = renewal_quote(subscriber, line, plan, coupon)
    choices = checkout.payment_choices()
    chosen = request.POST.get("method", choices[0] if choices else "")
    context: dict[str, Any] = {
        "line": line,
        "plans": renewal_plans(line),
        "plan": plan,
        "coupon": coupon,
        "price": price,
        "refusal": refusal,
        "choices": [(choice, checkout.choice_label(choice)) for choice in choices],
        "chosen": chosen,
        "token": token,
        "balance_cents": ledger_queries.wallet_balance_cents(subscriber),
        "error": error,
        "quote_url": reverse("portal:renew_quote", kwargs={"msisdn": line.msisdn}),
        "nav": "dashboard",
    }
    return render(request, "portal/renew.html", context)


@subscriber_view
@require_http_methods(["GET", "POST"])
def renew(request: HttpRequest, subscriber: Subscriber, msisdn: str) -> HttpResponse:
    line = own_line(request, msisdn)
    token = form_token(request)
    if request.method == "GET" or request.POST.get("action") == "quote":
        return _page(request, subscriber, line, token=token)
    plan = _chosen_plan(request, line)
    coupon = _coupon(request)
    user = signed_in_user(request)

    def place(method: str, key: str) -> Order:
        return ordering.renew(
            line,
            channel=SalesChannel.WEB,
            payment_method=method,
            idempotency_key=key,
            acting_user=user,
            plan=plan,
            coupon_code=coupon,
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
        return _page(request, subscriber, line, token=token, error=outcome)
    if outcome.redirect_url:
        return checkout.to_provider(request, outcome.redirect_url)
    return redirect("portal:order_done", order_id=outcome.order.pk)


@subscriber_view
@require_GET
def renew_quote(request: HttpRequest, subscriber: Subscriber, msisdn: str) -> HttpResponse:
    """The price box alone, for htmx while the buyer changes the plan or types a coupon."""
    line = own_line(request, msisdn)
    plan = _chosen_plan(request, line)
    price, refusal = renewal_quote(subscriber, line, plan, _coupon(request))
    return render(request, "portal/_quote.html", {"price": price, "refusal": refusal, "plan": plan})


@subscriber_view
@require_GET
def order_done(request: HttpRequest, subscriber: Subscriber, order_id: int) -> HttpResponse:
    """The confirmation page of a portal order: what was bought, what's next, the receipt."""
    try:
        order = own_order_for(signed_in_user(request), order_id)
    except Order.DoesNotExist as error:
        raise Http404 from error
    try:
        receipt: Receipt | None = order.receipt
    except Receipt.DoesNotExist:
        receipt = None
    headline = {
        OrderKind.RENEWAL: _("Your line is renewed"),
        OrderKind.NEW_LINE: _("Your new line is ready"),
        OrderKind.WALLET_TOPUP: _("Your wallet is topped up"),
        OrderKind.ADDON: _("Your add-on is active"),
    }.get(OrderKind(order.kind), _("Thank you"))
    return render(
        request,
        "portal/order_done.html",
        {"order": order, "receipt": receipt, "headline": headline, "nav": "orders"},
    )
