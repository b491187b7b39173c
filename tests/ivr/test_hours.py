"""The hotline's business hours: a weekly schedule in Toronto, closed on Ontario holidays."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from simcare.ivr import hours

TORONTO = ZoneInfo("America/Toronto")


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=TORONTO)


@pytest.fixture(autouse=True)
def _schedule(settings: Any) -> None:
    weekdays = {str(day): [["09:00", "21:00"]] for day in range(5)}
    settings.SIMCARE_HOTLINE_HOURS = {**weekdays, "5": [["10:00", "18:00"]], "6": []}


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (at(2026, 12, 1, 9, 0), True),  # Tuesday, opening minute
        (at(2026, 12, 1, 20, 59), True),
        (at(2026, 12, 1, 21, 0), False),  # closing is exclusive
        (at(2026, 12, 1, 8, 59), False),
        (at(2026, 12, 5, 12, 0), True),  # Saturday hours
        (at(2026, 12, 6, 12, 0), False),  # Sunday: closed
        (at(2026, 12, 25, 12, 0), False),  # Christmas Day (a Friday)
        (at(2026, 12, 28, 12, 0), False),  # Boxing Day observed in Ontario (Monday)
        (at(2027, 2, 15, 12, 0), False),  # Family Day (Ontario only)
        (at(2026, 12, 29, 12, 0), True),
    ],
)
def test_is_open(moment: dt.datetime, is_open: bool) -> None:
    assert hours.is_open(moment) is is_open
    assert hours.is_open(moment.astimezone(dt.UTC)) is is_open


def test_next_opening_skips_closed_days_and_holidays() -> None:
    assert hours.next_opening(at(2026, 12, 1, 10, 0)) == at(2026, 12, 1, 10, 0)
    assert hours.next_opening(at(2026, 12, 1, 22, 0)) == at(2026, 12, 2, 9, 0)
    assert hours.next_opening(at(2026, 12, 5, 19, 0)) == at(2026, 12, 7, 9, 0)
    # Christmas (Fri), Boxing Day (Sat), Sunday, Boxing Day observed (Mon): Tuesday.
    assert hours.next_opening(at(2026, 12, 24, 21, 30)) == at(2026, 12, 29, 9, 0)


def test_no_opening_within_three_weeks_is_none(settings: Any) -> None:
    settings.SIMCARE_HOTLINE_HOURS = {}

    assert hours.next_opening(at(2026, 12, 1, 10, 0)) is None
