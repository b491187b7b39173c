""" "Download my data" and "close my account" (70-trust.md): the subscriber's own records as
one JSON file, and the closure of the account after a password confirmation."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from simcare.accounts import closure, errors
from simcare.accounts.export import export_personal_data
from simcare.accounts.models import Subscriber
from simcare.ledger import queries as ledger_queries
from simcare.lines.models import Line, LineState
from simcare.portal.access import signed_in_user, subscriber_view


@require_POST
@subscriber_view
def export(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    try:
        document = export_personal_data(subscriber, acting_user=signed_in_user(request))
    except errors.ExportTooSoon as refusal:
        messages.error(request, refusal.message)
        return redirect("portal:profile")
    response = HttpResponse(document, content_type="application/json; charset=utf-8")
    name = f"simcare-my-data-{timezone.localdate():%Y-%m-%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


def _confirm_page(
    request: HttpRequest, subscriber: Subscriber, *, error: str | None = None
) -> HttpResponse:
    live_lines = list(
        Line.objects.filter(subscriber=subscriber).exclude(state=LineState.RECYCLED).order_by("pk")
    )
    return render(
        request,
        "portal/close_account.html",
        {
            "live_lines": live_lines,
            "balance_cents": ledger_queries.wallet_balance_cents(subscriber),
            "error": error,
            "nav": "profile",
        },
    )


@subscriber_view
@never_cache
@require_http_methods(["GET", "POST"])
def close_account(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    if request.method == "GET":
        return _confirm_page(request, subscriber)
    try:
        closure.close_account(
            subscriber,
            password=request.POST.get("password", ""),
            confirmed=request.POST.get("confirm") == "on",
            acting_user=signed_in_user(request),
        )
    except errors.AccountError as refusal:
        return _confirm_page(request, subscriber, error=refusal.message)
    logout(request)
    return render(request, "portal/account_closed.html")
