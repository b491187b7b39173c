"""The hotline's business hours: the care team's schedule, or a weekly schedule in Toronto
closed on Ontario holidays when no care team exists."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from simcare.care.models import Closure, OpeningHours, Team
from simcare.ivr import hours

pytestmark = pytest.mark.django_db

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


def _team(name: str, *, is_default: bool = False, province: str = "ON") -> Team:
    team = Team.objects.create(
        name=name, time_zone="America/Vancouver", province=province, is_default=is_default
    )
    for day in range(5):
        OpeningHours.objects.create(
            team=team, weekday=day, opens_at=dt.time(8, 0), closes_at=dt.time(16, 0)
        )
    return team


def test_the_default_care_team_sets_the_hours() -> None:
    team = _team("Front line", is_default=True, province="BC")
    vancouver = ZoneInfo("America/Vancouver")

    # 12:00 in Toronto is 09:00 in Vancouver: open; 20:00 Toronto is 17:00 there: closed.
    assert hours.is_open(at(2026, 12, 1, 12, 0)) is True
    assert hours.is_open(at(2026, 12, 1, 20, 0)) is False
    assert hours.next_opening(at(2026, 12, 1, 20, 0)) == dt.datetime(
        2026, 12, 2, 8, 0, tzinfo=vancouver
    )
    # Family Day is a BC holiday too (Feb 15, 2027), and a team closure closes the day.
    Closure.objects.create(team=team, date=dt.date(2027, 2, 16), reason="Training")
    assert hours.next_opening(at(2027, 2, 15, 12, 0)) == dt.datetime(
        2027, 2, 17, 8, 0, tzinfo=vancouver
    )


def test_the_named_team_wins_over_the_default(settings: Any) -> None:
    _team("Front line", is_default=True)
    hotline = Team.objects.create(name="Hotline", time_zone="America/Toronto", province="ON")
    OpeningHours.objects.create(
        team=hotline, weekday=1, opens_at=dt.time(18, 0), closes_at=dt.time(23, 0)
    )
    settings.SIMCARE_HOTLINE_TEAM = "Hotline"

    assert hours.is_open(at(2026, 12, 1, 12, 0)) is False
    assert hours.is_open(at(2026, 12, 1, 22, 0)) is True
