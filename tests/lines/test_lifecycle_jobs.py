"""The `lifecycle` and `reminders` periodic jobs, with time travel (time-machine)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.lines import services
from simcare.lines.models import (
    Line,
    LineEvent,
    LineState,
    Number,
    NumberStatus,
    SimKind,
    SimStatus,
)
from simcare.notify.models import Notification
from simcare.ops.jobs import discover, run_job
from tests.lines.lifecycle_support import add_sim, new_line

UTC = dt.UTC
DAY = dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)
START = dt.datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
END = START + 30 * DAY


@pytest.fixture(autouse=True)
def _jobs() -> None:
    discover()


def run_at(moment: dt.datetime, job: str = "lifecycle") -> dict[str, Any]:
    with time_machine.travel(moment, tick=False):
        return run_job(job)


def epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def lifecycle_notifications(line: Line) -> list[tuple[str, str, dt.datetime | None, str | None]]:
    return sorted(
        Notification.objects.filter(line=line, template__startswith="lifecycle.").values_list(
            "template", "channel", "reference_at", "dedupe_key"
        )
    )


def transitions(line: Line) -> list[tuple[str, str, str, str, dt.datetime]]:
    return list(
        LineEvent.objects.filter(line=line)
        .exclude(cause="activated")
        .order_by("id")
        .values_list("from_state", "to_state", "cause", "actor_label", "created_at")
    )


@pytest.fixture
def line(subscriber: Subscriber, plan: Plan) -> Line:
    return new_line(subscriber, plan, now=START)


def test_the_jobs_are_registered() -> None:
    jobs = discover()

    assert (jobs["lifecycle"].schedule, jobs["reminders"].schedule) == (
        "*/5 * * * *",
        "*/15 * * * *",
    )


def test_nothing_moves_before_period_end(line: Line) -> None:
    summary = run_at(END - MINUTE)

    line.refresh_from_db()
    assert line.state == LineState.ACTIVE
    assert summary == {
        "active_to_grace": 0,
        "grace_to_suspended": 0,
        "suspended_to_recycled": 0,
        "numbers_released": 0,
    }
    assert transitions(line) == []
    assert lifecycle_notifications(line) == []


def test_period_end_moves_active_to_grace(line: Line) -> None:
    # when
    summary = run_at(END)

    # then
    line.refresh_from_db()
    assert (line.state, line.state_changed_at, line.recycled_at) == (LineState.GRACE, END, None)
    assert summary["active_to_grace"] == 1
    assert transitions(line) == [("active", "grace", "period_ended", "lifecycle job", END)]
    assert lifecycle_notifications(line) == [
        ("lifecycle.expired", channel, END, f"lifecycle:grace:{line.pk}:{epoch(END)}:{channel}")
        for channel in ("email", "sms")
    ]
    notification = Notification.objects.filter(template="lifecycle.expired").first()
    assert notification is not None
    assert (notification.status, notification.language, notification.recipient_id) == (
        "queued",
        "en",
        line.subscriber.user_id,
    )
    assert notification.context == {}


def test_grace_ends_in_suspension(line: Line) -> None:
    # given
    run_at(END)

    # when
    run_at(END + 30 * DAY - MINUTE)
    line.refresh_from_db()
    state_before = line.state
    summary = run_at(END + 30 * DAY)

    # then
    line.refresh_from_db()
    assert (state_before, line.state) == (LineState.GRACE, LineState.SUSPENDED)
    assert summary["grace_to_suspended"] == 1
    assert transitions(line)[-1] == (
        "grace",
        "suspended",
        "grace_ended",
        "lifecycle job",
        END + 30 * DAY,
    )
    assert [row[0] for row in lifecycle_notifications(line)] == [
        "lifecycle.expired",
        "lifecycle.expired",
        "lifecycle.suspended",
        "lifecycle.suspended",
    ]
    assert line.number.status == NumberStatus.ASSIGNED


def test_suspension_ends_in_recycling_and_the_number_goes_to_quarantine(line: Line) -> None:
    # given
    run_at(END)
    run_at(END + 30 * DAY)
    recycle_time = END + 90 * DAY

    # when
    summary = run_at(recycle_time)

    # then
    line.refresh_from_db()
    assert (line.state, line.recycled_at, line.state_changed_at) == (
        LineState.RECYCLED,
        recycle_time,
        recycle_time,
    )
    assert summary["suspended_to_recycled"] == 1
    assert transitions(line)[-1] == (
        "suspended",
        "recycled",
        "suspension_ended",
        "lifecycle job",
        recycle_time,
    )
    number = Number.objects.get(pk=line.number_id)
    assert (number.status, number.quarantine_until) == (
        NumberStatus.QUARANTINE,
        recycle_time + 90 * DAY,
    )
    assert line.sim.status == SimStatus.ASSIGNED
    assert sorted(
        Notification.objects.filter(template="lifecycle.recycled").values_list(
            "channel", "dedupe_key"
        )
    ) == [
        (channel, f"lifecycle:recycled:{line.pk}:{epoch(END)}:{channel}")
        for channel in ("email", "sms")
    ]


def test_quarantined_number_is_released_after_90_days_and_can_be_reassigned(
    line: Line, make_subscriber: Callable[..., Subscriber], plan: Plan
) -> None:
    # given
    recycle_time = END + 90 * DAY
    run_at(recycle_time)
    released_at = recycle_time + 90 * DAY

    # when
    held = run_at(released_at - MINUTE)["numbers_released"]
    released = run_at(released_at)["numbers_released"]

    # then
    number = Number.objects.get(pk=line.number_id)
    assert (held, released) == (0, 1)
    assert (number.status, number.quarantine_until, number.updated_at) == (
        NumberStatus.AVAILABLE,
        None,
        released_at,
    )

    # and the number goes to a new customer's line
    newcomer = make_subscriber()
    add_sim()
    fresh = services.activate_line(
        newcomer,
        plan,
        kind=SimKind.PHYSICAL,
        acting_user=None,
        msisdn=line.msisdn,
        now=released_at + DAY,
    )
    assert (fresh.number_id, fresh.state) == (line.number_id, LineState.ACTIVE)
    assert sorted(Line.objects.filter(msisdn=line.msisdn).values_list("state", flat=True)) == [
        "active",
        "recycled",
    ]


def test_running_the_job_twice_changes_nothing_the_second_time(
    make_subscriber: Callable[..., Subscriber], plan: Plan
) -> None:
    # given: one line due for each step
    due_for_grace = new_line(make_subscriber(), plan, now=START)
    due_for_suspension = new_line(make_subscriber(), plan, now=START)
    due_for_recycling = new_line(make_subscriber(), plan, now=START)
    not_due = new_line(make_subscriber(), plan, now=START + 10 * DAY)
    Line.objects.filter(pk=due_for_suspension.pk).update(
        state=LineState.GRACE, period_end=END - 30 * DAY + MINUTE, period_start=START - 30 * DAY
    )
    Line.objects.filter(pk=due_for_recycling.pk).update(
        state=LineState.SUSPENDED,
        period_end=END - 90 * DAY + MINUTE,
        period_start=START - 90 * DAY,
    )
    moment = END + MINUTE

    # when
    first = run_at(moment)
    counts = (LineEvent.objects.count(), Notification.objects.count())
    second = run_at(moment)
    third = run_at(moment + 3 * MINUTE)

    # then
    assert first == {
        "active_to_grace": 1,
        "grace_to_suspended": 1,
        "suspended_to_recycled": 1,
        "numbers_released": 0,
    }
    assert (
        second
        == third
        == {
            "active_to_grace": 0,
            "grace_to_suspended": 0,
            "suspended_to_recycled": 0,
            "numbers_released": 0,
        }
    )
    assert counts == (4 + 3, 4 * 2 + 3 * 2)
    assert (LineEvent.objects.count(), Notification.objects.count()) == counts
    states = dict(Line.objects.values_list("pk", "state"))
    assert states == {
        due_for_grace.pk: "grace",
        due_for_suspension.pk: "suspended",
        due_for_recycling.pk: "recycled",
        not_due.pk: "active",
    }


def test_a_late_job_takes_every_due_step_and_notifies_only_the_last(
    make_subscriber: Callable[..., Subscriber], plan: Plan
) -> None:
    # given: the worker was down for 100 days
    overdue_suspension = new_line(make_subscriber(), plan, now=START + 60 * DAY)
    overdue_recycling = new_line(make_subscriber(), plan, now=START)
    late = START + 130 * DAY

    # when
    summary = run_at(late)

    # then
    assert summary == {
        "active_to_grace": 2,
        "grace_to_suspended": 2,
        "suspended_to_recycled": 1,
        "numbers_released": 0,
    }
    assert [row[:3] for row in transitions(overdue_recycling)] == [
        ("active", "grace", "period_ended"),
        ("grace", "suspended", "grace_ended"),
        ("suspended", "recycled", "suspension_ended"),
    ]
    assert [row[:3] for row in transitions(overdue_suspension)] == [
        ("active", "grace", "period_ended"),
        ("grace", "suspended", "grace_ended"),
    ]
    assert {row[0] for row in lifecycle_notifications(overdue_recycling)} == {"lifecycle.recycled"}
    assert {row[0] for row in lifecycle_notifications(overdue_suspension)} == {
        "lifecycle.suspended"
    }
    assert Notification.objects.filter(template__startswith="lifecycle.").count() == 4
    assert Number.objects.get(pk=overdue_recycling.number_id).status == NumberStatus.QUARANTINE


def test_the_sweep_works_in_chunks(make_subscriber: Callable[..., Subscriber], plan: Plan) -> None:
    # given
    lines = [new_line(make_subscriber(), plan, now=START) for _ in range(5)]

    # when
    summary = services.sweep_lifecycle(END, chunk_size=2)

    # then
    assert summary["active_to_grace"] == 5
    assert LineEvent.objects.filter(cause="period_ended").count() == 5
    assert Notification.objects.filter(template="lifecycle.expired").count() == 10
    assert set(Line.objects.values_list("state", flat=True)) == {"grace"}
    assert len({line.pk for line in lines}) == 5


def test_a_renewed_line_is_not_swept(line: Line, plan: Plan) -> None:
    # given: in grace, then renewed 10 days later
    run_at(END)
    services.renew_line_period(line, plan, acting_user=None, now=END + 10 * DAY)

    # when: past the old grace end, before the new period end
    summary = run_at(END + 31 * DAY)

    # then
    line.refresh_from_db()
    assert (line.state, line.period_end) == (LineState.ACTIVE, END + 40 * DAY)
    assert summary["grace_to_suspended"] == 0
    # The stale "expired" notice, still queued, was cancelled by the renewal.
    assert set(
        Notification.objects.filter(template="lifecycle.expired").values_list("status", flat=True)
    ) == {"cancelled"}


def test_lifecycle_durations_come_from_settings(line: Line, settings: Any) -> None:
    settings.SIMCARE_LIFECYCLE = {
        **settings.SIMCARE_LIFECYCLE,
        "grace_days": 2,
        "suspend_days": 3,
        "number_quarantine_days": 4,
    }

    run_at(END + 5 * DAY)

    line.refresh_from_db()
    number = Number.objects.get(pk=line.number_id)
    assert line.state == LineState.RECYCLED
    assert (number.status, number.quarantine_until) == (
        NumberStatus.QUARANTINE,
        END + 9 * DAY,
    )


# --- reminders --------------------------------------------------------------------------------


def reminder_keys(line: Line) -> list[str]:
    return sorted(
        key.rsplit(":", 2)[0]
        for key in Notification.objects.filter(
            line=line, template__endswith="_reminder", channel="email"
        ).values_list("dedupe_key", flat=True)
        if key
    )


@pytest.mark.parametrize(
    ("moment", "window", "template"),
    [
        (END - 7 * DAY, "expiry-7", "lifecycle.expiry_reminder"),
        (END - 3 * DAY, "expiry-3", "lifecycle.expiry_reminder"),
        (END - DAY, "expiry-1", "lifecycle.expiry_reminder"),
        (END + 23 * DAY, "suspension-7", "lifecycle.suspension_reminder"),
        (END + 83 * DAY, "recycling-7", "lifecycle.recycling_reminder"),
    ],
)
def test_each_reminder_goes_once_when_its_window_opens(
    line: Line, moment: dt.datetime, window: str, template: str
) -> None:
    # given: the lifecycle is where the clock says
    run_at(moment)
    nothing_yet = run_at(moment - MINUTE, "reminders")[window]

    # when
    first = run_at(moment, "reminders")
    again = run_at(moment + 15 * MINUTE, "reminders")

    # then
    assert nothing_yet == 0
    assert first[window] == 2
    assert sum(first.values()) == 2
    assert sum(again.values()) == 0
    assert sorted(
        Notification.objects.filter(
            line=line, template=template, dedupe_key__startswith=f"reminder:{window}:"
        ).values_list("channel", "reference_at", "dedupe_key", "status")
    ) == [
        (channel, END, f"reminder:{window}:{line.pk}:{epoch(END)}:{channel}", "queued")
        for channel in ("email", "sms")
    ]


def test_a_full_unrenewed_life_sends_every_reminder_once(line: Line) -> None:
    # when: both jobs run every 15 minutes... sampled here once a day for 200 days
    moment = START
    while moment <= END + 200 * DAY:
        run_at(moment)
        run_at(moment, "reminders")
        moment += DAY

    # then
    assert reminder_keys(line) == [
        f"reminder:expiry-1:{line.pk}",
        f"reminder:expiry-3:{line.pk}",
        f"reminder:expiry-7:{line.pk}",
        f"reminder:recycling-7:{line.pk}",
        f"reminder:suspension-7:{line.pk}",
    ]
    assert sorted(
        Notification.objects.filter(line=line, channel="sms").values_list("template", flat=True)
    ) == sorted(
        [
            "line.activated",
            "lifecycle.expiry_reminder",
            "lifecycle.expiry_reminder",
            "lifecycle.expiry_reminder",
            "lifecycle.expired",
            "lifecycle.suspension_reminder",
            "lifecycle.suspended",
            "lifecycle.recycling_reminder",
            "lifecycle.recycled",
        ]
    )


def test_a_late_reminder_job_sends_only_the_current_reminder(line: Line) -> None:
    # when: the first run since a week happens two days before the end
    summary = run_at(END - 2 * DAY, "reminders")

    # then
    assert summary == {
        "expiry-7": 0,
        "expiry-3": 2,
        "expiry-1": 0,
        "suspension-7": 0,
        "recycling-7": 0,
    }
    assert reminder_keys(line) == [f"reminder:expiry-3:{line.pk}"]


def test_no_reminders_for_a_line_that_moved_on(line: Line, plan: Plan) -> None:
    # given: renewed well ahead, so the old period's windows never apply
    services.renew_line_period(line, plan, acting_user=None, now=END - 10 * DAY)

    # when
    summary = run_at(END - 2 * DAY, "reminders")

    # then
    assert sum(summary.values()) == 0
    assert reminder_keys(line) == []


def test_reminder_offsets_come_from_settings(line: Line, settings: Any) -> None:
    settings.SIMCARE_LIFECYCLE = {
        **settings.SIMCARE_LIFECYCLE,
        "reminder_days_before_expiry": [10, 2],
    }

    summary = run_at(END - 9 * DAY, "reminders")

    assert summary["expiry-10"] == 2
    assert reminder_keys(line) == [f"reminder:expiry-10:{line.pk}"]
