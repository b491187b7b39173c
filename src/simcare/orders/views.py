"""Subscriber pages of money: the receipt of an order, as a page and as a PDF.

Whose order it is decides who sees it (orders.queries.order_for): someone
else's order, or one without a receipt (not paid), is not found. Staff must
have passed their second factor, as in the back office.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from simcare.orders import queries
from simcare.orders.errors import ReceiptNotAvailable
from simcare.orders.models import Order, Receipt
from simcare.orders.services import receipts

View = Callable[..., HttpResponse]


def _second_factor_for_staff(view: View) -> View:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user: Any = request.user
        if user.is_staff and not user.is_verified():
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        return view(request, *args, **kwargs)

    return wrapped


def _receipt(request: HttpRequest, order_id: int) -> Receipt:
    user: Any = request.user
    try:
        order = queries.order_for(user, order_id)
    except Order.DoesNotExist as missing:
        raise Http404 from missing
    try:
        return order.receipt
    except Receipt.DoesNotExist:
        pass
    # A paid order always has one (the ordering service issues it); issuing is
    # idempotent, so an order paid before receipts existed gets its receipt here.
    try:
        return receipts.issue_receipt(order)
    except ReceiptNotAvailable as refusal:
        raise Http404 from refusal


def _private(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, private=True, no_store=True)
    return response


@require_safe
@login_required
@_second_factor_for_staff
def receipt_page(request: HttpRequest, order_id: int) -> HttpResponse:
    receipt = _receipt(request, order_id)
    language = translation.get_language()
    context = {
        "receipt": receipts.receipt_content(receipt, language=language),
        "pdf_url": reverse("orders:receipt_pdf", kwargs={"order_id": order_id}),
    }
    return _private(render(request, "orders/receipt_page.html", context))


@require_safe
@login_required
@_second_factor_for_staff
def receipt_pdf(request: HttpRequest, order_id: int) -> HttpResponse:
    receipt = _receipt(request, order_id)
    pdf = receipts.render_receipt_pdf(receipt, language=translation.get_language())
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{receipt.number}.pdf"'
    return _private(response)
