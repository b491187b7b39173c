"""The pure lifecycle rules: deadlines, states, reminder windows, renewal periods."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simcare.lines import lifecycle
from simcare.lines.lifecycle import LifecycleConfig
from simcare.lines.models import LineState

UTC = dt.UTC
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
END = dt.datetime(2026, 12, 20, 14, 3, tzinfo=UTC)
CONFIG = LifecycleConfig()  # the spec's defaults: 30 / 60 / 90 days, reminders 7, 3, 1


def test_config_from_settings_mapping_orders_and_dedupes_offsets() -> None:
    config = LifecycleConfig.from_mapping(
        {"grace_days": 10, "reminder_days_before_expiry": [1, 7, 3, 7]}
    )

    assert config.grace_days == 10
    assert config.suspend_days == 60
    assert config.reminder_days_before_expiry == (7, 3, 1)


@pytest.mark.parametrize(
    "values", [{"grace_days": -1}, {"reminder_days_before_expiry": [0]}, {"suspend_days": -5}]
)
def test_config_refuses_nonsense(values: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        LifecycleConfig.from_mapping(values)


def test_current_config_reads_settings(settings: object) -> None:
    settings.SIMCARE_LIFECYCLE = {"grace_days": 5, "suspend_days": 6}  # type: ignore[attr-defined]

    config = lifecycle.current_config()

    assert (config.grace_days, config.suspend_days, config.number_quarantine_days) == (5, 6, 90)


def test_deadlines() -> None:
    limits = lifecycle.deadlines(END, CONFIG)

    assert limits.period_end == END
    assert limits.grace_ends_at == dt.datetime(2027, 1, 19, 14, 3, tzinfo=UTC)
    assert limits.suspension_ends_at == dt.datetime(2027, 3, 20, 14, 3, tzinfo=UTC)
    assert limits.recycles_at == limits.suspension_ends_at


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (END - DAY, LineState.ACTIVE),
        (END - dt.timedelta(microseconds=1), LineState.ACTIVE),
        (END, LineState.GRACE),
        (END + 29 * DAY, LineState.GRACE),
        (END + 30 * DAY, LineState.SUSPENDED),
        (END + 89 * DAY, LineState.SUSPENDED),
        (END + 90 * DAY, LineState.RECYCLED),
        (END + 400 * DAY, LineState.RECYCLED),
    ],
)
def test_state_at(moment: dt.datetime, expected: LineState) -> None:
    assert lifecycle.state_at(END, moment, CONFIG) == expected


@pytest.mark.parametrize(
    ("state", "moment", "expected"),
    [
        (LineState.ACTIVE, END - HOUR, LineState.ACTIVE),
        (LineState.ACTIVE, END, LineState.GRACE),
        (LineState.ACTIVE, END + 45 * DAY, LineState.SUSPENDED),
        (LineState.ACTIVE, END + 200 * DAY, LineState.RECYCLED),
        (LineState.GRACE, END + DAY, LineState.GRACE),
        (LineState.GRACE, END + 30 * DAY, LineState.SUSPENDED),
        (LineState.SUSPENDED, END + 90 * DAY, LineState.RECYCLED),
        (LineState.RECYCLED, END + 900 * DAY, LineState.RECYCLED),
    ],
)
def test_final_state_after_sweep_takes_every_due_step(
    state: LineState, moment: dt.datetime, expected: LineState
) -> None:
    assert lifecycle.final_state_after_sweep(state, END, moment, CONFIG) == expected


def test_transitions_in_order_with_their_cutoffs() -> None:
    now = END + 100 * DAY

    steps = lifecycle.transitions(CONFIG)

    assert [(step.from_state, step.to_state, step.cause) for step in steps] == [
        (LineState.ACTIVE, LineState.GRACE, "period_ended"),
        (LineState.GRACE, LineState.SUSPENDED, "grace_ended"),
        (LineState.SUSPENDED, LineState.RECYCLED, "suspension_ended"),
    ]
    assert [step.cutoff(now) for step in steps] == [now, now - 30 * DAY, now - 90 * DAY]


def test_reminder_windows_of_the_defaults() -> None:
    windows = lifecycle.reminder_windows(CONFIG)

    assert [
        (window.key, window.template, window.state, window.opens_before, window.closes_before)
        for window in windows
    ] == [
        ("expiry-7", "lifecycle.expiry_reminder", LineState.ACTIVE, 7 * DAY, 3 * DAY),
        ("expiry-3", "lifecycle.expiry_reminder", LineState.ACTIVE, 3 * DAY, 1 * DAY),
        ("expiry-1", "lifecycle.expiry_reminder", LineState.ACTIVE, 1 * DAY, dt.timedelta(0)),
        (
            "suspension-7",
            "lifecycle.suspension_reminder",
            LineState.GRACE,
            7 * DAY,
            dt.timedelta(0),
        ),
        (
            "recycling-7",
            "lifecycle.recycling_reminder",
            LineState.SUSPENDED,
            7 * DAY,
            dt.timedelta(0),
        ),
    ]


def test_no_stage_reminder_when_the_stage_is_shorter_than_the_reminder() -> None:
    config = LifecycleConfig(grace_days=7, suspend_days=3, reminder_days_before_expiry=(2,))

    assert [window.key for window in lifecycle.reminder_windows(config)] == ["expiry-2"]


START = END - 30 * DAY


@pytest.mark.parametrize(
    ("state", "moment", "expected"),
    [
        (LineState.ACTIVE, END - 8 * DAY, []),
        (LineState.ACTIVE, END - 7 * DAY, ["expiry-7"]),
        (LineState.ACTIVE, END - 3 * DAY - HOUR, ["expiry-7"]),
        (LineState.ACTIVE, END - 3 * DAY, ["expiry-3"]),
        (LineState.ACTIVE, END - DAY - HOUR, ["expiry-3"]),
        (LineState.ACTIVE, END - DAY, ["expiry-1"]),
        (LineState.ACTIVE, END - HOUR, ["expiry-1"]),
        (LineState.ACTIVE, END, []),
        (LineState.GRACE, END - HOUR, []),
        (LineState.GRACE, END + 22 * DAY, []),
        (LineState.GRACE, END + 23 * DAY, ["suspension-7"]),
        (LineState.GRACE, END + 30 * DAY - HOUR, ["suspension-7"]),
        (LineState.GRACE, END + 30 * DAY, []),
        (LineState.SUSPENDED, END + 82 * DAY, []),
        (LineState.SUSPENDED, END + 83 * DAY, ["recycling-7"]),
        (LineState.SUSPENDED, END + 90 * DAY - HOUR, ["recycling-7"]),
        (LineState.SUSPENDED, END + 90 * DAY, []),
        (LineState.RECYCLED, END + 83 * DAY, []),
    ],
)
def test_reminders_due(state: LineState, moment: dt.datetime, expected: list[str]) -> None:
    due = lifecycle.reminders_due(
        state=state, period_start=START, period_end=END, now=moment, config=CONFIG
    )

    assert [window.key for window in due] == expected


@pytest.mark.parametrize(
    ("period_days", "moment", "expected"),
    [
        (7, END - 7 * DAY, []),  # bought today: no "7 days left" on its first day
        (7, END - 3 * DAY, ["expiry-3"]),
        (3, END - 3 * DAY + HOUR, []),
        (3, END - DAY, ["expiry-1"]),
        (1, END - HOUR, []),
    ],
)
def test_expiry_reminder_needs_the_period_to_start_before_its_window(
    period_days: int, moment: dt.datetime, expected: list[str]
) -> None:
    due = lifecycle.reminders_due(
        state=LineState.ACTIVE,
        period_start=END - period_days * DAY,
        period_end=END,
        now=moment,
        config=CONFIG,
    )

    assert [window.key for window in due] == expected


moments = st.datetimes(
    min_value=dt.datetime(2025, 1, 1),  # noqa: DTZ001 (hypothesis adds the zone)
    max_value=dt.datetime(2030, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
offset_lists = st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=5)


@given(
    now=moments,
    offsets=offset_lists,
    period_days=st.integers(min_value=1, max_value=400),
    end_offset_minutes=st.integers(min_value=-200 * 24 * 60, max_value=200 * 24 * 60),
)
def test_at_most_one_reminder_applies_at_any_moment(
    now: dt.datetime, offsets: list[int], period_days: int, end_offset_minutes: int
) -> None:
    config = LifecycleConfig(reminder_days_before_expiry=tuple(offsets))
    period_end = now + dt.timedelta(minutes=end_offset_minutes)
    state = lifecycle.state_at(period_end, now, config)

    due = lifecycle.reminders_due(
        state=state,
        period_start=period_end - period_days * DAY,
        period_end=period_end,
        now=now,
        config=config,
    )

    assert len(due) <= 1
    for window in due:
        deadline = window.deadline(period_end)
        assert deadline - window.opens_before <= now < deadline - window.closes_before


@given(
    period_end=moments,
    grace=st.integers(min_value=0, max_value=90),
    suspend=st.integers(min_value=0, max_value=90),
    first=st.integers(min_value=0, max_value=400 * 24),
    later=st.integers(min_value=0, max_value=400 * 24),
)
def test_state_only_moves_forward_in_time(
    period_end: dt.datetime, grace: int, suspend: int, first: int, later: int
) -> None:
    config = LifecycleConfig(grace_days=grace, suspend_days=suspend)
    order = [LineState.ACTIVE, LineState.GRACE, LineState.SUSPENDED, LineState.RECYCLED]
    early = period_end - 100 * DAY + first * HOUR
    late = early + later * HOUR

    assert order.index(lifecycle.state_at(period_end, early, config)) <= order.index(
        lifecycle.state_at(period_end, late, config)
    )
    # One late sweep from active lands where the clock says, whatever was skipped.
    assert lifecycle.final_state_after_sweep(
        LineState.ACTIVE, period_end, late, config
    ) == lifecycle.state_at(period_end, late, config)


@pytest.mark.parametrize(
    ("state", "now", "expected"),
    [
        # Active: extends from period_end, window keeps its start, allowances from the old end.
        (LineState.ACTIVE, END - 5 * DAY, (START, END + 30 * DAY, END, False)),
        # Active but already past its end (sweep not yet run): a new period from now.
        (LineState.ACTIVE, END + HOUR, (END + HOUR, END + HOUR + 30 * DAY, END + HOUR, True)),
        (LineState.GRACE, END + 3 * DAY, (END + 3 * DAY, END + 33 * DAY, END + 3 * DAY, True)),
        (
            LineState.SUSPENDED,
            END + 40 * DAY,
            (END + 40 * DAY, END + 70 * DAY, END + 40 * DAY, True),
        ),
    ],
)
def test_renewal_period(
    state: LineState, now: dt.datetime, expected: tuple[dt.datetime, dt.datetime, dt.datetime, bool]
) -> None:
    period = lifecycle.renewal_period(
        state=state, period_start=START, period_end=END, validity_days=30, now=now
    )

    assert (
        period.period_start,
        period.period_end,
        period.allowances_start_at,
        period.is_restart,
    ) == expected


def test_renewal_period_refuses_a_recycled_line() -> None:
    with pytest.raises(ValueError, match="recycled"):
        lifecycle.renewal_period(
            state=LineState.RECYCLED, period_start=START, period_end=END, validity_days=30, now=END
        )


@given(
    now=moments,
    validity=st.integers(min_value=1, max_value=365),
    end_offset_hours=st.integers(min_value=-2000, max_value=2000),
)
def test_renewing_never_loses_paid_days(
    now: dt.datetime, validity: int, end_offset_hours: int
) -> None:
    period_end = now + dt.timedelta(hours=end_offset_hours)
    state = lifecycle.state_at(period_end, now, CONFIG)
    if state == LineState.RECYCLED:
        return

    period = lifecycle.renewal_period(
        state=state,
        period_start=period_end - 30 * DAY,
        period_end=period_end,
        validity_days=validity,
        now=now,
    )

    assert period.period_end == max(period_end, now) + validity * DAY
    assert period.period_end - period.allowances_start_at == validity * DAY
