"""Business hours: is a team open at a moment, and when does it next open (pure, no I/O).

A Schedule holds the weekly spans in the team's time zone, the province whose
statutory and provincial holidays close it (the `holidays` package), and custom
closure dates. A holiday or closure closes the whole local day. Spans are
half-open: a team open 09:00-17:00 is open at 09:00 and closed at 17:00.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from zoneinfo import ZoneInfo

import holidays

# Far enough to cross any run of holidays and closures; a schedule with no
# spans at all has no next opening.
SEARCH_DAYS = 370


@dataclass(frozen=True)
class Schedule:
    time_zone: str
    # weekday (0 = Monday) → spans (opens, closes) in local time
    weekly: dict[int, tuple[tuple[dt.time, dt.time], ...]]
    province: str | None = "ON"
    closures: frozenset[dt.date] = field(default_factory=frozenset)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@cache
def _holidays(province: str | None, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("CA", subdiv=province or None, years=year)


def is_closed_day(schedule: Schedule, day: dt.date) -> bool:
    return day in schedule.closures or day in _holidays(schedule.province, day.year)


def holiday_name(schedule: Schedule, day: dt.date) -> str | None:
    name = _holidays(schedule.province, day.year).get(day)
    return str(name) if name else None


def _spans_on(schedule: Schedule, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    if is_closed_day(schedule, day):
        return []
    zone = schedule.zone
    return [
        (dt.datetime.combine(day, opens, zone), dt.datetime.combine(day, closes, zone))
        for opens, closes in sorted(schedule.weekly.get(day.weekday(), ()))
    ]


def is_open(schedule: Schedule, moment: dt.datetime) -> bool:
    """Whether the team is open at the aware `moment`."""
    local = moment.astimezone(schedule.zone)
    return any(opens <= local < closes for opens, closes in _spans_on(schedule, local.date()))


def next_opening(schedule: Schedule, moment: dt.datetime) -> dt.datetime | None:
    """The first moment at or after `moment` when the team is open (`moment` itself when it
    is open now), as an aware datetime in the team's zone; None if it never opens."""
    local = moment.astimezone(schedule.zone)
    for offset in range(SEARCH_DAYS):
        day = local.date() + dt.timedelta(days=offset)
        for opens, closes in _spans_on(schedule, day):
            if local < closes:
                return max(opens, local)
    return None
