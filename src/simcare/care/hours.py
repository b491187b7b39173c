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


# --- business time: the SLA clock (care/sla.py) ----------------------------------------------


def has_hours(schedule: Schedule) -> bool:
    return any(schedule.weekly.values())


def add_business_minutes(schedule: Schedule, start: dt.datetime, minutes: int) -> dt.datetime:
    """The moment `minutes` of opening time after `start` (a closed start counts from the
    next opening). A schedule without any hours runs on the calendar clock."""
    remaining = dt.timedelta(minutes=minutes)
    if not has_hours(schedule):
        return start + remaining
    local = start.astimezone(schedule.zone)
    for offset in range(SEARCH_DAYS * 10):
        day = local.date() + dt.timedelta(days=offset)
        for opens, closes in _spans_on(schedule, day):
            begin = max(opens, local)
            if begin >= closes:
                continue
            if begin + remaining <= closes:
                return begin + remaining
            remaining -= closes - begin
    return start + dt.timedelta(days=SEARCH_DAYS * 10)


def business_minutes_between(schedule: Schedule, start: dt.datetime, end: dt.datetime) -> int:
    """Whole minutes of opening time in [start, end) (0 when end is not after start)."""
    if end <= start:
        return 0
    if not has_hours(schedule):
        return int((end - start).total_seconds() // 60)
    zone = schedule.zone
    first, last = start.astimezone(zone), end.astimezone(zone)
    total = dt.timedelta()
    day = first.date()
    while day <= last.date():
        for opens, closes in _spans_on(schedule, day):
            begin, finish = max(opens, first), min(closes, last)
            if finish > begin:
                total += finish - begin
        day += dt.timedelta(days=1)
    return int(total.total_seconds() // 60)


def business_day_minutes(schedule: Schedule) -> int:
    """One business day: the opening minutes of an average open weekday (480 for 09-17,
    Monday to Friday); a schedule without hours has calendar days (1440)."""
    days = [spans for spans in schedule.weekly.values() if spans]
    if not days:
        return 24 * 60
    total = sum(
        (
            dt.datetime.combine(dt.date.min, closes) - dt.datetime.combine(dt.date.min, opens)
        ).total_seconds()
        // 60
        for spans in days
        for opens, closes in spans
    )
    return int(total // len(days))
