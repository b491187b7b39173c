"""SLA targets and due times (pure, no I/O): what each priority promises, in business time.

A target is business minutes of the ticket's team (care/hours.py), plus whole business
days for the longer resolution targets; a business day is the team's opening minutes on
an average open weekday (480 for 09:00-17:00). Time waiting on the customer does not
count: the minutes a wait took are added back to both due times when it ends.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from simcare.care import hours


@dataclass(frozen=True)
class Target:
    first_response_minutes: int
    resolution_minutes: int = 0
    resolution_business_days: int = 0

    def resolution_total(self, schedule: hours.Schedule) -> int:
        return self.resolution_minutes + self.resolution_business_days * hours.business_day_minutes(
            schedule
        )


# Used when a priority has no SlaPolicy row (the migration seeds these rows).
DEFAULT_TARGETS: dict[str, Target] = {
    "vip": Target(15, 4 * 60),
    "high": Target(60, 8 * 60),
    "normal": Target(4 * 60, 0, 2),
    "low": Target(8 * 60, 0, 5),
}


@dataclass(frozen=True)
class DueTimes:
    first_response_due_at: dt.datetime
    resolution_due_at: dt.datetime


def due_times(
    schedule: hours.Schedule, target: Target, *, created_at: dt.datetime, paused_minutes: int = 0
) -> DueTimes:
    return DueTimes(
        hours.add_business_minutes(
            schedule, created_at, target.first_response_minutes + paused_minutes
        ),
        hours.add_business_minutes(
            schedule, created_at, target.resolution_total(schedule) + paused_minutes
        ),
    )
