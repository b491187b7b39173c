"""Public pages (the home page with the plan catalog, the error pages) and the subscriber's
dashboard: every line with its state, days left, allowances and what happens next."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from simcare.accounts.models import Subscriber
from simcare.catalog.queries import plans_on_sale
from simcare.ledger import queries as ledger_queries
from simcare.lines import queries as line_queries
from simcare.lines.models import Line
from simcare.orders.models import AutoRenewSetting
from simcare.portal.access import subscriber_view
from simcare.portal.display import summarize


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html", {"plans": plans_on_sale()})


@subscriber_view
def dashboard(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    now = timezone.now()
    lines = line_queries.live_lines_list(subscriber)
    line_queries.attach_current_buckets(lines, now=now)
    _attach_renew_settings(lines)
    summaries = [summarize(line, now=now) for line in lines]
    return render(
        request,
        "portal/dashboard.html",
        {
            "summaries": summaries,
            "balance_cents": ledger_queries.wallet_balance_cents(subscriber),
            "subscriber": subscriber,
            "nav": "dashboard",
        },
    )


def _attach_renew_settings(lines: list[Line]) -> None:
    """The auto-renew setting and its card of each line that renews itself, in one query (none
    when no line does); a line without one reads as having none, without a query of its own."""
    renewing = {line.pk: line for line in lines if line.auto_renew}
    if not renewing:
        return
    settings = AutoRenewSetting.objects.filter(line_id__in=list(renewing)).select_related(
        "payment_method"
    )
    found = {setting.line_id: setting for setting in settings}
    cache = Line.renew_setting.related
    for line_id, line in renewing.items():
        cache.set_cached_value(line, found.get(line_id))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/404.html", status=404)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/403.html", status=403)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/400.html", status=400)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "errors/500.html", status=500)
