"""When people answer the hotline: the care team's business hours.

The hotline follows the care team named by `settings.SIMCARE_HOTLINE_TEAM`, or
the default team (the one that takes new chats), with that team's weekly
schedule, time zone, provincial holidays and custom closures, computed by
`simcare.care.hours` like the chat's. Without any team (a fresh install before
the care team is set up) it falls back to `settings.SIMCARE_HOTLINE_HOURS`
(weekday "0" = Monday → opening ranges [["09:00", "21:00"], …]) in
America/Toronto, closed on Canadian statutory and Ontario holidays.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from simcare.care import hours as care_hours
from simcare.care.chat_queries import schedule_for
from simcare.care.models import Team

# How far ahead the hotline looks for its next opening before saying none.
_SEARCH_DAYS = 21


def _fallback_schedule() -> care_hours.Schedule:
    weekly = {
        int(day): tuple(
            (dt.time.fromisoformat(start), dt.time.fromisoformat(end)) for start, end in ranges
        )
        for day, ranges in settings.SIMCARE_HOTLINE_HOURS.items()
    }
    return care_hours.Schedule(time_zone="America/Toronto", weekly=weekly, province="ON")


def hotline_team() -> Team | None:
    """The care team that answers the hotline and takes its voicemails."""
    teams = Team.objects.prefetch_related("hours")
    name = settings.SIMCARE_HOTLINE_TEAM
    return teams.filter(name=name).first() if name else teams.filter(is_default=True).first()


def hotline_schedule() -> care_hours.Schedule:
    """The schedule the hotline follows now (read per call: admins edit teams live)."""
    team = hotline_team()
    return schedule_for(team) if team is not None else _fallback_schedule()


def is_open(at: dt.datetime, *, schedule: care_hours.Schedule | None = None) -> bool:
    """Whether `at` (aware) falls within the hotline's opening hours (`schedule`: one the
    caller already read with hotline_schedule(), to read it once)."""
    return care_hours.is_open(schedule or hotline_schedule(), at)


def next_opening(
    at: dt.datetime, *, schedule: care_hours.Schedule | None = None
) -> dt.datetime | None:
    """The first opening at or after `at`, in the team's zone; None if none within 3 weeks."""
    opening = care_hours.next_opening(schedule or hotline_schedule(), at)
    if opening is None or opening - at > dt.timedelta(days=_SEARCH_DAYS):
        return None
    return opening
