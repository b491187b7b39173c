"""Reads on usage, with the access check built in (the line's, from lines.queries).

The chart and the subscriber API read the daily rollups (usage_dailyusage):
at most three rows per line and day, one indexed range scan, whatever the
number of records behind them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from simcare.accounts.models import User
from simcare.kit.time import business_zone
from simcare.lines.queries import line_for
from simcare.usage.models import DailyUsage

MAX_DAYS = 366
UNITS = {"data": "KB", "voice": "minute", "sms": "message"}


@dataclass(frozen=True)
class DayTotals:
    """One day (America/Toronto) of a line's usage: data in KB, voice minutes, SMS messages."""

    day: dt.date
    data: int = 0
    voice: int = 0
    sms: int = 0
    charged_cents: int = 0


@dataclass(frozen=True)
class LineUsage:
    msisdn: str
    days: int
    daily: list[DayTotals] = field(default_factory=list)


def daily_usage_for(
    user: User, msisdn: str, days: int = 30, *, today: dt.date | None = None
) -> LineUsage:
    """The last `days` days (1..366, today included) of the line's usage, every day present.

    Raises Line.DoesNotExist (a 404 at the edge) when `user` may not see the line.
    """
    line = line_for(user, msisdn)
    days = max(1, min(MAX_DAYS, days))
    today = today or timezone.now().astimezone(business_zone()).date()
    first = today - dt.timedelta(days=days - 1)
    totals: dict[dt.date, dict[str, int]] = {
        first + dt.timedelta(days=offset): {"data": 0, "voice": 0, "sms": 0, "charged_cents": 0}
        for offset in range(days)
    }
    rows = DailyUsage.objects.filter(line=line, day__gte=first, day__lte=today).values_list(
        "day", "kind", "units", "charged_cents"
    )
    for day, kind, units, charged in rows:
        totals[day][kind] += units
        totals[day]["charged_cents"] += charged
    return LineUsage(
        msisdn=line.msisdn,
        days=days,
        daily=[DayTotals(day=day, **values) for day, values in sorted(totals.items())],
    )
