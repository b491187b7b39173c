"""Opening hours: whether a store is open at a moment, and when that next changes.

Pure rules, no I/O. Hours are the Store.hours JSON, in America/Toronto local
time: {"mon": [["10:00", "19:00"]], "sat": [["11:00", "14:00"], ["15:00", "18:00"]],
"sun": []}; a missing day or [] is closed, a day may have several periods, and
"24:00" closes at midnight. A period never runs past midnight; a store open
overnight writes it as two periods ("fri": [["18:00", "24:00"]], "sat":
[["00:00", "02:00"]]), and the two read as one opening: no change at midnight.

Each day's periods are placed on the calendar in the business zone, so the
answer is right across daylight-saving changes (a period is local clock time).
Malformed entries are skipped rather than refused: the admin form validates the
shape (stores.admin.validate_hours); a page must never fail on a bad row.

Public holidays are not modelled: a store closed on a holiday says so on its
own page (decision in docs/stores.md).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BUSINESS_ZONE = ZoneInfo("America/Toronto")
_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00")
# Far enough to reach next week's first opening from any moment of this week.
_HORIZON_DAYS = 8

Interval = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class Opening:
    """Open or closed at `moment`, and the next moment that flips (None: never changes)."""

    is_open: bool
    next_change: dt.datetime | None


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def day_periods(hours: Mapping[str, Any] | None, day: str) -> list[tuple[int, int]]:
    """The well-formed (open, close) periods of one day in minutes after midnight, in order."""
    raw = (hours or {}).get(day) if isinstance(hours, Mapping) else None
    periods: list[tuple[int, int]] = []
    if not isinstance(raw, list):
        return periods
    for period in raw:
        if (
            isinstance(period, list | tuple)
            and len(period) == 2
            and all(isinstance(time, str) and _TIME.fullmatch(time) for time in period)
        ):
            opens, closes = _minutes(period[0]), _minutes(period[1])
            if opens < closes:
                periods.append((opens, closes))
    return sorted(periods)


def _at(day: dt.date, minutes: int, zone: ZoneInfo) -> dt.datetime:
    midnight = dt.datetime.combine(day, dt.time(0, 0))
    local = midnight + dt.timedelta(minutes=minutes)
    # Wall-clock time in the zone, then UTC, so intervals compare across DST changes.
    return local.replace(tzinfo=zone).astimezone(dt.UTC)


def _intervals(
    hours: Mapping[str, Any] | None, around: dt.datetime, zone: ZoneInfo
) -> list[Interval]:
    """Every opening from the day before `around` for a week and more, touching ones merged."""
    first_day = around.astimezone(zone).date() - dt.timedelta(days=1)
    intervals: list[Interval] = []
    for offset in range(_HORIZON_DAYS + 1):
        day = first_day + dt.timedelta(days=offset)
        for opens, closes in day_periods(hours, DAYS[day.weekday()]):
            start, end = _at(day, opens, zone), _at(day, closes, zone)
            if end <= start:
                continue  # a period inside the hour skipped by the spring DST change
            if intervals and start <= intervals[-1][1]:
                intervals[-1] = (intervals[-1][0], max(intervals[-1][1], end))
            else:
                intervals.append((start, end))
    return intervals


def opening(
    hours: Mapping[str, Any] | None, moment: dt.datetime, *, zone: ZoneInfo = BUSINESS_ZONE
) -> Opening:
    """Whether the store is open at `moment` (aware) and when that next changes.

    An opening includes its first minute and excludes its closing minute: with
    [["10:00", "19:00"]], 10:00 is open and 19:00 is closed.
    """
    if moment.tzinfo is None:
        raise ValueError("opening() needs an aware datetime")
    intervals = _intervals(hours, moment, zone)
    for index, (start, end) in enumerate(intervals):
        if start <= moment < end:
            # Open through the whole horizon (24/7): the state never changes.
            is_last = index == len(intervals) - 1
            reaches_horizon = is_last and end >= _at(
                moment.astimezone(zone).date() + dt.timedelta(days=_HORIZON_DAYS - 1), 0, zone
            )
            return Opening(True, None if reaches_horizon else end.astimezone(zone))
        if start > moment:
            return Opening(False, start.astimezone(zone))
    return Opening(False, None)


def is_open_now(
    hours: Mapping[str, Any] | None, moment: dt.datetime, *, zone: ZoneInfo = BUSINESS_ZONE
) -> bool:
    """Whether the store is open at `moment`."""
    return opening(hours, moment, zone=zone).is_open


def next_change(
    hours: Mapping[str, Any] | None, moment: dt.datetime, *, zone: ZoneInfo = BUSINESS_ZONE
) -> dt.datetime | None:
    """When the store next opens (if closed) or closes (if open), in the business zone;
    None when it is closed every day or open around the clock."""
    return opening(hours, moment, zone=zone).next_change


def format_minutes(minutes: int) -> str:
    """600 → "10:00"; 1440 → "24:00"."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
