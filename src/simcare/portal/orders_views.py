"""The subscriber's order history, newest first, with links to each receipt (HTML and PDF)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from simcare.accounts.models import Subscriber
from simcare.orders.queries import orders_for
from simcare.portal.access import signed_in_user, subscriber_view

PAGE_SIZE = 20


@subscriber_view
@require_GET
def order_history(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    orders = orders_for(signed_in_user(request)).filter(subscriber=subscriber)
    page = Paginator(orders.select_related("receipt"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "portal/orders.html", {"page": page, "nav": "orders"})
