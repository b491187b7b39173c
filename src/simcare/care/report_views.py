"""The console's reports page: /console/reports/?start=YYYY-MM-DD&end=YYYY-MM-DD (Toronto
dates, end included; the last 30 days by default). Care admins and team leads only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from simcare.care import report_queries
from simcare.care.console_views import console_view
from simcare.kit.time import business_zone

DEFAULT_DAYS = 30
MAX_DAYS = 366
# The charts: one bar per group, scaled to the largest value shown.
CHARTS = (
    ("csat_average", 5.0),
    ("ticket_first_median", None),
    ("chat_first_median", None),
)


def _date(value: str | None, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError:
        return default


def _bars(rows: list[dict[str, Any]], key: str, scale: float | None) -> list[dict[str, Any]]:
    values = [row[key] for row in rows if row[key] is not None]
    top = scale or (max(values) if values else 0.0)
    return [
        {
            "label": row["label"],
            "value": row[key],
            "width": round(100 * row[key] / top, 1) if top and row[key] is not None else 0,
            "y": index * 24,
        }
        for index, row in enumerate(rows)
    ]


@require_GET
@console_view
def reports(request: HttpRequest) -> HttpResponse:
    if not report_queries.may_see_reports(request.user):
        raise PermissionDenied
    today = timezone.now().astimezone(business_zone()).date()
    end_day = _date(request.GET.get("end"), today)
    start_day = _date(request.GET.get("start"), end_day - dt.timedelta(days=DEFAULT_DAYS - 1))
    error = ""
    if start_day > end_day or (end_day - start_day).days >= MAX_DAYS:
        error = _("Choose a start date before the end date, at most a year apart.")
        start_day = end_day - dt.timedelta(days=DEFAULT_DAYS - 1)
    zone = business_zone()
    start = dt.datetime.combine(start_day, dt.time(), zone)
    end = dt.datetime.combine(end_day + dt.timedelta(days=1), dt.time(), zone)
    report = report_queries.care_report(start, end)
    titles = {
        "agent": _("By agent"),
        "team": _("By team"),
        "language": _("By language"),
    }
    chart_titles = {
        "csat_average": _("CSAT average (1-5)"),
        "ticket_first_median": _("Ticket first response, median (business minutes)"),
        "chat_first_median": _("Chat first response, median (minutes)"),
    }
    sections = [
        {
            "name": dimension,
            "title": titles[dimension],
            "rows": rows,
            "charts": [
                {
                    "title": chart_titles[key],
                    "bars": _bars(rows, key, scale),
                    "height": max(24, 24 * len(rows)),
                }
                for key, scale in CHARTS
            ],
        }
        for dimension, rows in report.items()
    ]
    return render(
        request,
        "care/console/reports.html",
        {"sections": sections, "start": start_day, "end": end_day, "error": error},
    )
