"""Opening hours as a table: open/closed at the edges, several periods a day, closed days,
a night across midnight, 24/7, daylight-saving changes, malformed rows."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from simcare.stores.hours import Opening, is_open_now, next_change, opening

TORONTO = ZoneInfo("America/Toronto")

# 2026-11-30 is a Monday.
WEEK: dict[str, Any] = {
    "mon": [["10:00", "19:00"]],
    "tue": [["10:00", "19:00"]],
    "wed": [["10:00", "13:00"], ["14:00", "19:00"]],
    "thu": [["10:00", "19:00"]],
    "fri": [["18:00", "24:00"]],
    "sat": [["00:00", "02:00"], ["11:00", "17:00"]],
    "sun": [],
}


def at(day: int, time: str, month: int = 11, year: int = 2026) -> dt.datetime:
    hours, minutes = (int(part) for part in time.split(":"))
    return dt.datetime(year, month, day, hours, minutes, tzinfo=TORONTO)


@pytest.mark.parametrize(
    ("moment", "is_open", "change"),
    [
        # Monday: the opening minute is open, the closing minute is closed.
        (at(30, "09:59"), False, at(30, "10:00")),
        (at(30, "10:00"), True, at(30, "19:00")),
        (at(30, "18:59"), True, at(30, "19:00")),
        (at(30, "19:00"), False, dt.datetime(2026, 12, 1, 10, 0, tzinfo=TORONTO)),
        # Wednesday's lunch break: two periods.
        (dt.datetime(2026, 12, 2, 12, 59, tzinfo=TORONTO), True, at(2, "13:00", 12)),
        (dt.datetime(2026, 12, 2, 13, 0, tzinfo=TORONTO), False, at(2, "14:00", 12)),
        (dt.datetime(2026, 12, 2, 13, 30, tzinfo=TORONTO), False, at(2, "14:00", 12)),
        (dt.datetime(2026, 12, 2, 14, 0, tzinfo=TORONTO), True, at(2, "19:00", 12)),
        # Friday night into Saturday: one opening, no change at midnight.
        (at(4, "17:59", 12), False, at(4, "18:00", 12)),
        (at(4, "23:59", 12), True, at(5, "02:00", 12)),
        (at(5, "00:00", 12), True, at(5, "02:00", 12)),
        (at(5, "01:59", 12), True, at(5, "02:00", 12)),
        (at(5, "02:00", 12), False, at(5, "11:00", 12)),
        # Saturday evening: closed through Sunday (a closed day) until Monday.
        (at(5, "17:00", 12), False, at(7, "10:00", 12)),
        (at(6, "12:00", 12), False, at(7, "10:00", 12)),
    ],
)
def test_open_or_closed_and_the_next_change(
    moment: dt.datetime, is_open: bool, change: dt.datetime
) -> None:
    assert opening(WEEK, moment) == Opening(is_open, change)
    assert is_open_now(WEEK, moment) is is_open
    assert next_change(WEEK, moment) == change


def test_a_moment_in_another_zone_is_read_in_toronto() -> None:
    # 15:30 UTC on Monday is 10:30 in Toronto (EST, UTC-5).
    moment = dt.datetime(2026, 11, 30, 15, 30, tzinfo=dt.UTC)

    assert is_open_now(WEEK, moment) is True
    assert next_change(WEEK, moment) == at(30, "19:00")
    assert next_change(WEEK, moment).tzinfo == TORONTO  # type: ignore[union-attr]


@pytest.mark.parametrize("hours", [{}, None, {day: [] for day in WEEK}, "garbage", []])
def test_a_store_closed_every_day_never_opens(hours: Any) -> None:
    assert opening(hours, at(30, "12:00")) == Opening(False, None)


def test_open_around_the_clock_never_changes() -> None:
    always = {day: [["00:00", "24:00"]] for day in WEEK}

    assert opening(always, at(30, "03:00")) == Opening(True, None)


def test_open_every_day_but_one_closes_at_the_start_of_that_day() -> None:
    hours = {day: [["00:00", "24:00"]] for day in WEEK}
    hours["wed"] = []

    assert opening(hours, at(30, "12:00")) == Opening(True, at(2, "00:00", 12))


def test_malformed_periods_are_skipped_not_fatal() -> None:
    hours = {"mon": [["10:00"], ["19:00", "10:00"], "9-5", [10, 19], ["12:00", "14:00"]]}

    assert opening(hours, at(30, "11:00")) == Opening(False, at(30, "12:00"))
    assert is_open_now(hours, at(30, "13:00")) is True


def test_local_hours_hold_across_the_daylight_saving_change() -> None:
    # DST ends on Sunday 2026-11-01 in Toronto: the store still opens at 10:00 local.
    hours = {"sun": [["10:00", "18:00"]], "mon": [["10:00", "18:00"]]}
    before = dt.datetime(2026, 11, 1, 4, 0, tzinfo=dt.UTC)  # 00:00 EDT

    change = next_change(hours, before)

    assert change == dt.datetime(2026, 11, 1, 10, 0, tzinfo=TORONTO)
    assert change is not None
    assert change.utcoffset() == dt.timedelta(hours=-5)


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        opening(WEEK, dt.datetime(2026, 11, 30, 12, 0))  # noqa: DTZ001
