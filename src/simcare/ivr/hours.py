"""When people answer the hotline: a weekly schedule in America/Toronto, closed on holidays.

`settings.SIMCARE_HOTLINE_HOURS` maps a weekday ("0" = Monday) to opening
ranges [["09:00", "21:00"], …]; Canadian statutory and Ontario holidays (the
`holidays` package) are closed all day. Pure rules: the caller passes the
moment. The care app's business hours will replace this module behind the
same two functions.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays
from django.conf import settings

from simcare.kit.time import business_zone

_SEARCH_DAYS = 21


@lru_cache(maxsize=8)
def _holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("CA", subdiv="ON", years=year)


def _ranges(day: dt.date) -> list[tuple[dt.time, dt.time]]:
    if day in _holidays(day.year):
        return []
    raw = settings.SIMCARE_HOTLINE_HOURS.get(str(day.weekday()), [])
    return [(dt.time.fromisoformat(start), dt.time.fromisoformat(end)) for start, end in raw]


def is_open(at: dt.datetime) -> bool:
    """Whether `at` (aware) falls within opening hours."""
    local = at.astimezone(business_zone())
    return any(start <= local.time() < end for start, end in _ranges(local.date()))


def next_opening(at: dt.datetime) -> dt.datetime | None:
    """The first opening at or after `at` (in America/Toronto); None if none within 3 weeks."""
    zone = business_zone()
    local = at.astimezone(zone)
    for offset in range(_SEARCH_DAYS):
        day = local.date() + dt.timedelta(days=offset)
        for start, end in _ranges(day):
            opening = dt.datetime.combine(day, start, tzinfo=zone)
            closing = dt.datetime.combine(day, end, tzinfo=zone)
            if closing <= local:
                continue
            return max(opening, local)
    return None
