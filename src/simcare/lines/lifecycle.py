"""The rules of keeping a number (保号): deadlines, states, reminder windows, renewal periods.

Pure functions over datetimes and a `LifecycleConfig`; no database, no clock.
The periodic jobs (lines/tasks.py) turn these rules into set-based SQL, the
services (lines/services.py) use them for renewals, and the notification
texts use them to print the dates. Keeping them here means one definition of
"when" for all three.

Every deadline derives from the line's `period_end` alone:

    period_end ──grace_days──▶ grace ends ──suspend_days──▶ suspension ends (recycling)

so the sweep can select due lines with `period_end <= now - offset`, where
the offset is a Python timedelta: portable SQL, and an index on
(state, period_end) serves every step.

Reminder windows are half-open intervals before a deadline. For the expiry
reminders at e.g. 7, 3 and 1 days, the reminder for offset d applies while
`period_end - d <= now < period_end - (next smaller offset, or 0)`; so a job
that ran late sends only the reminder that is current, never a stale
"7 days left" when three remain. An expiry reminder also requires the period
to have begun before its window opened (`period_start < period_end - d`): a
7-day plan bought today does not get "expires in 7 days" on its first day.
The reminders before suspension and before recycling (7 days each by default)
apply only if the preceding stage is longer than the reminder offset;
otherwise the notice sent on entering that stage already says it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from simcare.lines.models import LineState

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class LifecycleConfig:
    grace_days: int = 30
    suspend_days: int = 60
    number_quarantine_days: int = 90
    reminder_days_before_expiry: tuple[int, ...] = (7, 3, 1)
    reminder_days_before_suspension: int = 7
    reminder_days_before_recycling: int = 7

    def __post_init__(self) -> None:
        if self.grace_days < 0 or self.suspend_days < 0 or self.number_quarantine_days < 0:
            raise ValueError("lifecycle durations must not be negative")
        if any(day <= 0 for day in self.reminder_days_before_expiry):
            raise ValueError("reminder offsets must be positive days")
        # Largest first, each once: the windows below rely on that order.
        ordered = tuple(sorted(set(self.reminder_days_before_expiry), reverse=True))
        object.__setattr__(self, "reminder_days_before_expiry", ordered)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> LifecycleConfig:
        return cls(
            grace_days=int(values.get("grace_days", 30)),
            suspend_days=int(values.get("suspend_days", 60)),
            number_quarantine_days=int(values.get("number_quarantine_days", 90)),
            reminder_days_before_expiry=tuple(
                int(day) for day in values.get("reminder_days_before_expiry", (7, 3, 1))
            ),
            reminder_days_before_suspension=int(values.get("reminder_days_before_suspension", 7)),
            reminder_days_before_recycling=int(values.get("reminder_days_before_recycling", 7)),
        )

    @property
    def grace(self) -> dt.timedelta:
        return self.grace_days * DAY

    @property
    def suspension(self) -> dt.timedelta:
        return self.suspend_days * DAY

    @property
    def quarantine(self) -> dt.timedelta:
        return self.number_quarantine_days * DAY


def current_config() -> LifecycleConfig:
    """The configuration in settings.SIMCARE_LIFECYCLE (read, not cached: tests override it)."""
    return LifecycleConfig.from_mapping(getattr(settings, "SIMCARE_LIFECYCLE", {}))


@dataclass(frozen=True)
class Deadlines:
    """When a period's line enters grace, suspension and recycling."""

    period_end: dt.datetime
    grace_ends_at: dt.datetime
    suspension_ends_at: dt.datetime

    @property
    def recycles_at(self) -> dt.datetime:
        return self.suspension_ends_at


def deadlines(period_end: dt.datetime, config: LifecycleConfig) -> Deadlines:
    grace_ends_at = period_end + config.grace
    return Deadlines(period_end, grace_ends_at, grace_ends_at + config.suspension)


def state_at(period_end: dt.datetime, moment: dt.datetime, config: LifecycleConfig) -> LineState:
    """The state the clock gives a line whose period ends at period_end (renewals aside)."""
    limits = deadlines(period_end, config)
    if moment < limits.period_end:
        return LineState.ACTIVE
    if moment < limits.grace_ends_at:
        return LineState.GRACE
    if moment < limits.suspension_ends_at:
        return LineState.SUSPENDED
    return LineState.RECYCLED


@dataclass(frozen=True)
class Transition:
    """One step of the lifecycle: due when period_end + offset <= now."""

    from_state: LineState
    to_state: LineState
    cause: str
    template: str
    offset: dt.timedelta

    def cutoff(self, now: dt.datetime) -> dt.datetime:
        """Lines with period_end <= cutoff are due for this step."""
        return now - self.offset

    def is_due(self, period_end: dt.datetime, now: dt.datetime) -> bool:
        return period_end <= self.cutoff(now)


def transitions(config: LifecycleConfig) -> tuple[Transition, ...]:
    """The steps in the order the sweep applies them (a late line goes through all that are due)."""
    return (
        Transition(
            LineState.ACTIVE, LineState.GRACE, "period_ended", "lifecycle.expired", dt.timedelta(0)
        ),
        Transition(
            LineState.GRACE,
            LineState.SUSPENDED,
            "grace_ended",
            "lifecycle.suspended",
            config.grace,
        ),
        Transition(
            LineState.SUSPENDED,
            LineState.RECYCLED,
            "suspension_ended",
            "lifecycle.recycled",
            config.grace + config.suspension,
        ),
    )


def final_state_after_sweep(
    state: LineState, period_end: dt.datetime, now: dt.datetime, config: LifecycleConfig
) -> LineState:
    """Where one sweep at `now` leaves a line: it takes every due step in order."""
    for step in transitions(config):
        if state == step.from_state and step.is_due(period_end, now):
            state = step.to_state
    return state


@dataclass(frozen=True)
class ReminderWindow:
    """A reminder sent once while `deadline - opens_before <= now < deadline - closes_before`.

    deadline = period_end + deadline_offset; the line must be in `state`.
    """

    key: str
    template: str
    state: LineState
    deadline_offset: dt.timedelta
    opens_before: dt.timedelta
    closes_before: dt.timedelta
    # Expiry reminders only: the period must have begun before the window opened.
    requires_period_before_window: bool = False

    def period_end_bounds(self, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """(after, until): the window is open at `now` for after < period_end <= until."""
        until = now - self.deadline_offset + self.opens_before
        after = now - self.deadline_offset + self.closes_before
        return after, until

    def applies(
        self,
        *,
        state: LineState,
        period_start: dt.datetime,
        period_end: dt.datetime,
        now: dt.datetime,
    ) -> bool:
        after, until = self.period_end_bounds(now)
        if state != self.state or not (after < period_end <= until):
            return False
        return not self.requires_period_before_window or (
            period_end - period_start > self.opens_before + self.deadline_offset
        )

    def deadline(self, period_end: dt.datetime) -> dt.datetime:
        return period_end + self.deadline_offset


def reminder_windows(config: LifecycleConfig) -> tuple[ReminderWindow, ...]:
    windows: list[ReminderWindow] = []
    offsets = config.reminder_days_before_expiry
    for index, days in enumerate(offsets):
        next_days = offsets[index + 1] if index + 1 < len(offsets) else 0
        windows.append(
            ReminderWindow(
                key=f"expiry-{days}",
                template="lifecycle.expiry_reminder",
                state=LineState.ACTIVE,
                deadline_offset=dt.timedelta(0),
                opens_before=days * DAY,
                closes_before=next_days * DAY,
                requires_period_before_window=True,
            )
        )
    before_suspension = config.reminder_days_before_suspension
    if 0 < before_suspension < config.grace_days:
        windows.append(
            ReminderWindow(
                key=f"suspension-{before_suspension}",
                template="lifecycle.suspension_reminder",
                state=LineState.GRACE,
                deadline_offset=config.grace,
                opens_before=before_suspension * DAY,
                closes_before=dt.timedelta(0),
            )
        )
    before_recycling = config.reminder_days_before_recycling
    if 0 < before_recycling < config.suspend_days:
        windows.append(
            ReminderWindow(
                key=f"recycling-{before_recycling}",
                template="lifecycle.recycling_reminder",
                state=LineState.SUSPENDED,
                deadline_offset=config.grace + config.suspension,
                opens_before=before_recycling * DAY,
                closes_before=dt.timedelta(0),
            )
        )
    return tuple(windows)


def reminders_due(
    *,
    state: LineState,
    period_start: dt.datetime,
    period_end: dt.datetime,
    now: dt.datetime,
    config: LifecycleConfig,
) -> list[ReminderWindow]:
    return [
        window
        for window in reminder_windows(config)
        if window.applies(state=state, period_start=period_start, period_end=period_end, now=now)
    ]


REMINDER_TEMPLATES = frozenset(
    {
        "lifecycle.expiry_reminder",
        "lifecycle.suspension_reminder",
        "lifecycle.recycling_reminder",
    }
)
# Queued notices that a renewal makes stale: the reminders of the old period,
# and "your line expired / is suspended" not yet sent when the customer renewed.
STALE_AFTER_RENEWAL_TEMPLATES = REMINDER_TEMPLATES | {"lifecycle.expired", "lifecycle.suspended"}


@dataclass(frozen=True)
class RenewalPeriod:
    period_start: dt.datetime
    period_end: dt.datetime
    allowances_start_at: dt.datetime
    is_restart: bool


def renewal_period(
    *,
    state: LineState,
    period_start: dt.datetime,
    period_end: dt.datetime,
    validity_days: int,
    now: dt.datetime,
) -> RenewalPeriod:
    """The period after renewing with a plan of validity_days.

    Active and not yet past its end: extends from period_end, no lost days;
    the line's window stays anchored at its period_start and the new plan's
    allowances start when the old ones end. Otherwise (grace, suspended, or an
    active line whose period ended before the sweep ran): a new period from now.
    """
    if state == LineState.RECYCLED:
        raise ValueError("a recycled line has no next period")
    validity = validity_days * DAY
    if state == LineState.ACTIVE and period_end > now:
        return RenewalPeriod(period_start, period_end + validity, period_end, is_restart=False)
    return RenewalPeriod(now, now + validity, now, is_restart=True)
