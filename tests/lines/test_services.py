"""Activation and the lifecycle part of a renewal (lines/services.py)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction

from simcare.accounts.models import AuditEvent, Role, Subscriber, User
from simcare.catalog.models import Plan
from simcare.lines import errors, services
from simcare.lines.models import (
    Bucket,
    Line,
    LineEvent,
    LineState,
    Number,
    NumberStatus,
    SimCard,
    SimKind,
    SimStatus,
)
from simcare.notify.models import Notification, NotificationStatus
from tests.lines.lifecycle_support import add_number, add_sim, new_line

UTC = dt.UTC
DAY = dt.timedelta(days=1)
NOW = dt.datetime(2026, 3, 1, 15, 0, tzinfo=UTC)


def _snapshot() -> tuple[int, ...]:
    return (
        Line.objects.count(),
        LineEvent.objects.count(),
        Bucket.objects.count(),
        Notification.objects.count(),
        AuditEvent.objects.filter(action__startswith="line.").count(),
        Number.objects.filter(status=NumberStatus.AVAILABLE).count(),
        SimCard.objects.filter(status=SimStatus.IN_STOCK).count(),
    )


def test_activate_takes_the_first_available_number_and_sim(
    subscriber: Subscriber, plan: Plan, make_staff: Callable[..., User]
) -> None:
    # given
    clerk = make_staff(Role.CLERK)
    add_number("+16475550199")
    first_number = add_number("+16475550100")
    add_sim(body="891230000000999999")
    first_sim = add_sim(body="891230000000000001")
    add_sim(SimKind.ESIM, body="891230000000000000")

    # when
    line = services.activate_line(
        subscriber, plan, kind=SimKind.PHYSICAL, acting_user=clerk, now=NOW
    )

    # then
    line.refresh_from_db()
    assert (line.msisdn, line.number_id, line.sim_id) == (
        "+16475550100",
        first_number.pk,
        first_sim.pk,
    )
    assert (line.state, line.kind, line.plan_id) == (LineState.ACTIVE, SimKind.PHYSICAL, plan.pk)
    assert (line.period_start, line.period_end) == (NOW, NOW + 30 * DAY)
    assert (line.activated_at, line.state_changed_at) == (NOW, NOW)
    first_number.refresh_from_db()
    first_sim.refresh_from_db()
    assert first_number.status == NumberStatus.ASSIGNED
    assert (first_sim.status, first_sim.assigned_at) == (SimStatus.ASSIGNED, NOW)
    assert sorted(
        line.buckets.values_list(
            "kind", "total", "used", "zone", "source", "starts_at", "expires_at"
        )
    ) == [
        ("data", 20480 * 1024, 0, "CA", "plan", NOW, NOW + 30 * DAY),
        ("sms", None, 0, "CA", "plan", NOW, NOW + 30 * DAY),
        ("voice", None, 0, "CA", "plan", NOW, NOW + 30 * DAY),
    ]
    assert list(
        line.events.values_list("actor", "actor_label", "from_state", "to_state", "cause")
    ) == [(clerk.pk, clerk.username, "", "active", "activated")]
    audit = AuditEvent.objects.get(action="line.activated")
    assert (audit.actor_id, audit.object_type, audit.object_id) == (clerk.pk, "line", str(line.pk))
    assert audit.data["plan"] == plan.code
    assert sorted(
        Notification.objects.values_list(
            "template", "channel", "status", "recipient", "line", "reference_at", "dedupe_key"
        )
    ) == [
        (
            "line.activated",
            channel,
            NotificationStatus.QUEUED,
            subscriber.user_id,
            line.pk,
            NOW + 30 * DAY,
            f"line.activated:{line.pk}:{channel}",
        )
        for channel in ("email", "sms")
    ]


def test_activate_with_a_chosen_number_and_esim(
    subscriber: Subscriber, make_plan: Callable[..., Plan]
) -> None:
    # given
    plan = make_plan(validity_days=7, data_mb=None, voice_minutes=100, sms_messages=50)
    add_number("+16475550100")
    wanted = add_number("+16475550142")
    esim = add_sim(SimKind.ESIM)

    # when
    line = services.activate_line(
        subscriber,
        plan,
        kind=SimKind.ESIM,
        acting_user=None,
        msisdn="+16475550142",
        sim=esim,
        now=NOW,
    )

    # then
    assert (line.number_id, line.sim_id, line.kind) == (wanted.pk, esim.pk, SimKind.ESIM)
    assert line.period_end == NOW + 7 * DAY
    assert sorted(line.buckets.values_list("kind", "total")) == [
        ("data", None),
        ("sms", 50),
        ("voice", 100),
    ]
    assert line.events.get().actor_label == "system"
    assert Number.objects.get(msisdn="+16475550100").status == NumberStatus.AVAILABLE


@pytest.mark.parametrize(
    ("arrange", "expected"),
    [
        ("no_number", errors.NoNumberAvailable),
        ("no_sim", errors.NoSimAvailable),
        ("number_taken", errors.NumberUnavailable),
        ("number_unknown", errors.NumberUnavailable),
        ("sim_taken", errors.SimUnavailable),
        ("sim_wrong_kind", errors.SimUnavailable),
    ],
)
def test_activate_refusals_change_nothing(
    subscriber: Subscriber,
    make_subscriber: Callable[..., Subscriber],
    plan: Plan,
    arrange: str,
    expected: type[errors.LineError],
) -> None:
    # given: one line already live, and some stock left
    other = make_subscriber()
    taken = new_line(other, plan, now=NOW)
    kwargs: dict[str, object] = {}
    if arrange != "no_number":
        add_number("+16475550177")
    if arrange != "no_sim":
        add_sim()
    if arrange == "number_taken":
        kwargs["msisdn"] = taken.msisdn
    if arrange == "number_unknown":
        kwargs["msisdn"] = "+16475550188"
    if arrange == "sim_taken":
        kwargs["sim"] = taken.sim
    if arrange == "sim_wrong_kind":
        kwargs["sim"] = add_sim(SimKind.ESIM)
    before = _snapshot()

    # when
    with pytest.raises(expected) as refusal:
        services.activate_line(
            subscriber, plan, kind=SimKind.PHYSICAL, acting_user=None, now=NOW, **kwargs
        )

    # then
    assert refusal.value.code == expected.code
    assert refusal.value.message
    assert _snapshot() == before
    assert not Line.objects.filter(subscriber=subscriber).exists()


def test_error_codes_are_stable() -> None:
    assert [
        error.code
        for error in (
            errors.NoNumberAvailable,
            errors.NoSimAvailable,
            errors.NumberUnavailable,
            errors.SimUnavailable,
            errors.LineRecycled,
        )
    ] == [
        "no_number_available",
        "no_sim_available",
        "number_unavailable",
        "sim_unavailable",
        "line_recycled",
    ]


def _set_state(line: Line, state: LineState, *, period_end: dt.datetime) -> None:
    Line.objects.filter(pk=line.pk).update(state=state, period_end=period_end)
    line.refresh_from_db()


def test_renew_active_extends_from_period_end(
    subscriber: Subscriber, plan: Plan, make_staff: Callable[..., User]
) -> None:
    # given
    agent = make_staff(Role.AGENT)
    line = new_line(subscriber, plan, now=NOW)
    renewal_time = NOW + 25 * DAY

    # when
    returned = services.renew_line_period(line, plan, acting_user=agent, now=renewal_time)

    # then
    assert returned is line
    line.refresh_from_db()
    assert (line.state, line.period_start, line.period_end) == (
        LineState.ACTIVE,
        NOW,
        NOW + 60 * DAY,
    )
    assert line.state_changed_at == NOW
    assert sorted(
        line.buckets.filter(starts_at=NOW + 30 * DAY).values_list("kind", "expires_at")
    ) == [(kind, NOW + 60 * DAY) for kind in ("data", "sms", "voice")]
    assert line.buckets.count() == 6
    event = line.events.get(cause="renewal")
    assert (event.actor_id, event.from_state, event.to_state, event.created_at) == (
        agent.pk,
        "active",
        "active",
        renewal_time,
    )
    audit = AuditEvent.objects.get(action="line.renewed")
    assert (audit.data["from_state"], audit.data["restarted"]) == ("active", False)
    assert sorted(
        Notification.objects.filter(template="line.renewed").values_list(
            "channel", "reference_at", "status"
        )
    ) == [("email", NOW + 60 * DAY, "queued"), ("sms", NOW + 60 * DAY, "queued")]


@pytest.mark.parametrize("state", [LineState.GRACE, LineState.SUSPENDED])
def test_renew_in_grace_or_suspended_restarts_now(
    subscriber: Subscriber, plan: Plan, make_plan: Callable[..., Plan], state: LineState
) -> None:
    # given
    line = new_line(subscriber, plan, now=NOW)
    _set_state(line, state, period_end=NOW + 30 * DAY)
    keeper = make_plan(code="keep365", validity_days=365, data_mb=0, keeps_number=True)
    renewal_time = NOW + 50 * DAY

    # when
    services.renew_line_period(line, keeper, acting_user=None, cause="voucher", now=renewal_time)

    # then
    line.refresh_from_db()
    assert (line.state, line.plan_id, line.period_start, line.period_end) == (
        LineState.ACTIVE,
        keeper.pk,
        renewal_time,
        renewal_time + 365 * DAY,
    )
    assert line.state_changed_at == renewal_time
    assert sorted(
        line.buckets.filter(starts_at=renewal_time).values_list("kind", "total", "expires_at")
    ) == [
        ("data", 0, renewal_time + 365 * DAY),
        ("sms", None, renewal_time + 365 * DAY),
        ("voice", None, renewal_time + 365 * DAY),
    ]
    assert list(line.events.filter(cause="voucher").values_list("from_state", "to_state")) == [
        (state.value, "active")
    ]
    assert AuditEvent.objects.get(action="line.renewed").data["restarted"] is True


def test_renew_recycled_is_refused_and_changes_nothing(subscriber: Subscriber, plan: Plan) -> None:
    # given
    line = new_line(subscriber, plan, now=NOW)
    _set_state(line, LineState.RECYCLED, period_end=NOW + 30 * DAY)
    before = _snapshot()

    # when
    with pytest.raises(errors.LineRecycled) as refusal:
        services.renew_line_period(line, plan, acting_user=None, now=NOW + 200 * DAY)

    # then
    assert refusal.value.code == "line_recycled"
    line.refresh_from_db()
    assert (line.state, line.period_end) == (LineState.RECYCLED, NOW + 30 * DAY)
    assert _snapshot() == before


def test_renew_works_inside_the_callers_transaction(subscriber: Subscriber, plan: Plan) -> None:
    # given
    line = new_line(subscriber, plan, now=NOW)

    def money_side_renewal() -> None:
        with transaction.atomic():
            services.renew_line_period(line, plan, acting_user=None, now=NOW + DAY)
            raise RuntimeError("payment declined after the line part")

    # when: the money side's renewal wraps it; a failure after it undoes it too
    with pytest.raises(RuntimeError, match="declined"):
        money_side_renewal()

    # then
    line.refresh_from_db()
    assert line.period_end == NOW + 30 * DAY
    assert not LineEvent.objects.filter(cause="renewal").exists()
    assert not Notification.objects.filter(template="line.renewed").exists()


def test_renewal_cancels_the_queued_reminders_of_the_old_period(
    subscriber: Subscriber, plan: Plan
) -> None:
    # given: an expiry reminder already sent, another queued, and an unrelated queued message
    line = new_line(subscriber, plan, now=NOW)
    services.queue_reminders(NOW + 23 * DAY)  # expiry-7
    Notification.objects.filter(template="lifecycle.expiry_reminder", channel="email").update(
        status=NotificationStatus.SENT
    )
    services.queue_reminders(NOW + 27 * DAY)  # expiry-3

    # when
    services.renew_line_period(
        line, plan, acting_user=None, now=NOW + 27 * DAY + dt.timedelta(hours=1)
    )

    # then
    assert sorted(
        Notification.objects.filter(template="lifecycle.expiry_reminder").values_list(
            "dedupe_key", "status"
        )
    ) == sorted(
        [
            (f"reminder:expiry-3:{line.pk}:{int((NOW + 30 * DAY).timestamp())}:email", "cancelled"),
            (f"reminder:expiry-3:{line.pk}:{int((NOW + 30 * DAY).timestamp())}:sms", "cancelled"),
            (f"reminder:expiry-7:{line.pk}:{int((NOW + 30 * DAY).timestamp())}:email", "sent"),
            (f"reminder:expiry-7:{line.pk}:{int((NOW + 30 * DAY).timestamp())}:sms", "cancelled"),
        ]
    )
    assert set(
        Notification.objects.filter(template="line.activated").values_list("status", flat=True)
    ) == {"queued"}
    # The new period's reminders come in their own time, not the old keys.
    assert services.queue_reminders(NOW + 57 * DAY)["expiry-3"] == 2


def test_renew_one_line_leaves_other_lines_reminders_alone(
    subscriber: Subscriber, make_subscriber: Callable[..., Subscriber], plan: Plan
) -> None:
    # given
    line = new_line(subscriber, plan, now=NOW)
    other = new_line(make_subscriber(), plan, now=NOW)
    services.queue_reminders(NOW + 23 * DAY)

    # when
    services.renew_line_period(line, plan, acting_user=None, now=NOW + 24 * DAY)

    # then
    assert sorted(
        Notification.objects.filter(template="lifecycle.expiry_reminder").values_list(
            "line", "status"
        )
    ) == sorted([(line.pk, "cancelled")] * 2 + [(other.pk, "queued")] * 2)


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks with SKIP LOCKED need PostgreSQL"
)


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_activations_never_share_a_number_or_sim(
    make_subscriber: Callable[..., Subscriber], plan: Plan
) -> None:
    # given: ten customers at once, eight numbers and eight SIMs
    subscribers = [make_subscriber() for _ in range(10)]
    for _ in range(8):
        add_number()
        add_sim()
    barrier = threading.Barrier(len(subscribers))
    outcomes: list[str] = []
    lock = threading.Lock()

    def activate(subscriber: Subscriber) -> None:
        try:
            barrier.wait()
            services.activate_line(subscriber, plan, kind=SimKind.PHYSICAL, acting_user=None)
            outcome = "ok"
        except errors.LineError as error:
            outcome = error.code
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    # when
    threads = [threading.Thread(target=activate, args=(s,)) for s in subscribers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then
    assert sorted(outcomes) == ["no_number_available"] * 2 + ["ok"] * 8
    assert Line.objects.count() == 8
    assert Line.objects.values("number").distinct().count() == 8
    assert Line.objects.values("sim").distinct().count() == 8
    assert not Number.objects.filter(status=NumberStatus.AVAILABLE).exists()
