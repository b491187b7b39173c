"""A line's usage over the last 30 days: one bar chart per kind (data in MB, call minutes,
texts) from the daily rollups, each with a table of the same figures."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from simcare.accounts.models import Subscriber
from simcare.portal.access import own_line, signed_in_user, subscriber_view
from simcare.portal.charts import bar_chart
from simcare.usage.queries import daily_usage_for

DAYS = 30


@subscriber_view
@require_GET
def line_usage(request: HttpRequest, subscriber: Subscriber, msisdn: str) -> HttpResponse:
    line = own_line(request, msisdn)
    # The same read the subscriber API serves (GET /api/v1/me/lines/{msisdn}/usage).
    usage = daily_usage_for(signed_in_user(request), line.msisdn, DAYS)
    charts = [
        bar_chart("data", _("Data"), _("MB"), usage.daily),
        bar_chart("voice", _("Calls"), _("minutes"), usage.daily),
        bar_chart("sms", _("Texts"), _("messages"), usage.daily),
    ]
    return render(
        request,
        "portal/usage.html",
        {"line": line, "charts": charts, "days": DAYS, "nav": "dashboard"},
    )
