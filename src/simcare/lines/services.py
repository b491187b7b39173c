"""State changes on lines: activation and the lifecycle part of a renewal.

Both run inside one transaction and write, together, the line, its history
(LineEvent), the audit event and the outbox rows: either all of it happened
or none of it (notifications are rows, sent by the outbox job after commit).

Concurrency: stock rows are claimed with SELECT … FOR UPDATE SKIP LOCKED on
PostgreSQL, so two activations at once take two different numbers and SIMs
instead of waiting for each other; the partial unique constraints on live
lines (msisdn, sim) are the last line of defence. On SQLite the IMMEDIATE
transaction mode serializes writers, which gives the same guarantee.
`renew_line_period` locks the line row (plain FOR UPDATE: a renewal must wait
for, not skip, a lifecycle sweep holding the row) and is meant to be called by
the money side's renewal service inside its own transaction.

The lifecycle sweep and the reminders are periodic jobs in lines/tasks.py.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from simcare.accounts.models import Subscriber, User
from simcare.accounts.services import record_audit
from simcare.catalog.models import Plan, UsageKind, Zone
from simcare.lines import errors, lifecycle
from simcare.lines.models import (
    Bucket,
    BucketSource,
    Line,
    LineEvent,
    LineState,
    Number,
    NumberStatus,
    SimCard,
    SimKind,
    SimStatus,
)
from simcare.notify import services as notify

SYSTEM_LABEL = "system"


def actor_label(acting_user: User | None) -> str:
    return acting_user.get_username() if acting_user is not None else SYSTEM_LABEL


StockRow = TypeVar("StockRow", Number, SimCard)


def _claimable(queryset: QuerySet[StockRow]) -> QuerySet[StockRow]:
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True)
    return queryset.select_for_update()


def _claim_number(msisdn: str | None) -> Number:
    available = Number.objects.filter(status=NumberStatus.AVAILABLE)
    if msisdn is not None:
        number = _claimable(available.filter(msisdn=msisdn)).first()
        if number is None:
            raise errors.NumberUnavailable(msisdn=msisdn)
        return number
    number = _claimable(available.order_by("msisdn")).first()
    if number is None:
        raise errors.NoNumberAvailable()
    return number


def _claim_sim(kind: SimKind, sim: SimCard | None) -> SimCard:
    in_stock = SimCard.objects.filter(status=SimStatus.IN_STOCK, kind=kind)
    if sim is not None:
        claimed = _claimable(in_stock.filter(pk=sim.pk)).first()
        if claimed is None:
            raise errors.SimUnavailable(iccid=sim.iccid)
        return claimed
    claimed = _claimable(in_stock.order_by("iccid")).first()
    if claimed is None:
        raise errors.NoSimAvailable(kind=str(kind))
    return claimed


def plan_buckets(
    line: Line, plan: Plan, *, starts_at: dt.datetime, expires_at: dt.datetime
) -> list[Bucket]:
    """The plan's allowances for one period: data in KB, voice in minutes, SMS in messages."""
    return Bucket.objects.bulk_create(
        plan_bucket_rows(line, plan, starts_at=starts_at, expires_at=expires_at)
    )


def plan_bucket_rows(
    line: Line, plan: Plan, *, starts_at: dt.datetime, expires_at: dt.datetime
) -> list[Bucket]:
    """plan_buckets' rows, not saved (a batch of renewals inserts many lines' at once)."""
    allowances = (
        (UsageKind.DATA, None if plan.data_mb is None else plan.data_mb * 1024),
        (UsageKind.VOICE, plan.voice_minutes),
        (UsageKind.SMS, plan.sms_messages),
    )
    return [
        Bucket(
            line=line,
            kind=kind,
            zone=Zone.CA,
            source=BucketSource.PLAN,
            total=total,
            starts_at=starts_at,
            expires_at=expires_at,
        )
        for kind, total in allowances
    ]


def _epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


@transaction.atomic
def activate_line(
    subscriber: Subscriber,
    plan: Plan,
    *,
    kind: SimKind,
    acting_user: User | None,
    sim: SimCard | None = None,
    msisdn: str | None = None,
    now: dt.datetime | None = None,
) -> Line:
    """Give the subscriber a new active line on `plan` with a number and a SIM from stock.

    `msisdn` asks for a particular available number, `sim` for a particular
    SIM in stock (a clerk hands over the card on the counter); otherwise the
    first available of each is taken.
    """
    now = now or timezone.now()
    kind = SimKind(kind)
    number = _claim_number(msisdn)
    card = _claim_sim(kind, sim)

    Number.objects.filter(pk=number.pk).update(status=NumberStatus.ASSIGNED, updated_at=now)
    SimCard.objects.filter(pk=card.pk).update(status=SimStatus.ASSIGNED, assigned_at=now)
    number.status, number.updated_at = NumberStatus.ASSIGNED, now
    card.status, card.assigned_at = SimStatus.ASSIGNED, now

    period_end = now + dt.timedelta(days=plan.validity_days)
    line = Line.objects.create(
        subscriber=subscriber,
        msisdn=number.msisdn,
        number=number,
        sim=card,
        kind=kind,
        state=LineState.ACTIVE,
        plan=plan,
        period_start=now,
        period_end=period_end,
        state_changed_at=now,
        activated_at=now,
    )
    plan_buckets(line, plan, starts_at=now, expires_at=period_end)
    label = actor_label(acting_user)
    LineEvent.objects.create(
        line=line,
        created_at=now,
        actor=acting_user,
        actor_label=label,
        from_state="",
        to_state=LineState.ACTIVE,
        cause="activated",
        note=f"{plan.code} {kind} {card.iccid}",
    )
    record_audit(
        "line.activated",
        actor=acting_user,
        target=line,
        msisdn=line.msisdn,
        iccid=card.iccid,
        kind=str(kind),
        plan=plan.code,
        period_end=period_end.isoformat(),
    )
    notify.enqueue(
        "line.activated",
        recipient=subscriber.user,
        line=line,
        reference_at=period_end,
        dedupe_key=f"line.activated:{line.pk}",
        now=now,
    )
    return line


@transaction.atomic
def renew_line_period(
    line: Line,
    plan: Plan,
    *,
    acting_user: User | None,
    cause: str = "renewal",
    now: dt.datetime | None = None,
) -> Line:
    """Give the line its next paid period on `plan` (the plan may change); returns `line`, updated.

    Active: the period extends from the current period_end. Grace or
    suspended: back to active with a new period from now. Recycled: refused
    with LineRecycled. Payment is the caller's business; this is the part of a
    renewal that belongs to the line. Queued reminders of the old period and
    stale "expired"/"suspended" notices are cancelled.
    """
    now = now or timezone.now()
    # The subscriber and user come along (the reminders below need them); only the line is locked.
    line.refresh_from_db(
        from_queryset=Line.objects.select_for_update(of=("self",)).select_related(
            "subscriber__user"
        )
    )
    if line.state == LineState.RECYCLED:
        raise errors.LineRecycled(msisdn=line.msisdn)

    from_state = LineState(line.state)
    old_period_end = line.period_end
    period = lifecycle.renewal_period(
        state=from_state,
        period_start=line.period_start,
        period_end=line.period_end,
        validity_days=plan.validity_days,
        now=now,
    )
    line.plan = plan
    line.period_start = period.period_start
    line.period_end = period.period_end
    if from_state != LineState.ACTIVE:
        line.state = LineState.ACTIVE
        line.state_changed_at = now
    line.save(update_fields=["plan", "period_start", "period_end", "state", "state_changed_at"])
    plan_buckets(line, plan, starts_at=period.allowances_start_at, expires_at=period.period_end)

    label = actor_label(acting_user)
    LineEvent.objects.create(
        line=line,
        created_at=now,
        actor=acting_user,
        actor_label=label,
        from_state=from_state,
        to_state=LineState.ACTIVE,
        cause=cause[:40],
        note=f"{plan.code} until {period.period_end.isoformat()}",
    )
    record_audit(
        "line.renewed",
        actor=acting_user,
        target=line,
        cause=cause,
        plan=plan.code,
        from_state=str(from_state),
        previous_period_end=old_period_end.isoformat(),
        period_end=period.period_end.isoformat(),
        restarted=period.is_restart,
    )
    notify.cancel_queued(line=line, templates=lifecycle.STALE_AFTER_RENEWAL_TEMPLATES)
    notify.enqueue(
        "line.renewed",
        recipient=line.subscriber.user,
        line=line,
        reference_at=period.period_end,
        dedupe_key=f"line.renewed:{line.pk}:{_epoch(period.period_end)}",
        now=now,
    )
    return line


# --- The lifecycle sweep and the reminders: set-based SQL ------------------------------------
#
# A sweep step is, per chunk and in one transaction:
#   1. UPDATE lines_line SET state = <to>, sweep_id = <fresh uuid> for at most
#      CHUNK_SIZE lines in <from> whose period_end <= the step's cutoff. The
#      WHERE re-checks the state, so a line moves once however many sweeps run:
#      on PostgreSQL concurrent sweeps skip each other's locked rows (FOR UPDATE
#      SKIP LOCKED in the sub-select) and a row that changed under a waiting
#      UPDATE fails the re-check; on SQLite writers are serialized.
#   2. INSERT INTO lines_lineevent … SELECT … WHERE sweep_id = <uuid>: history
#      for exactly the rows this chunk moved.
#   3. INSERT INTO notify_notification … SELECT … WHERE sweep_id = <uuid>, one
#      row per channel, with a dedupe key (line, step, period) and ON CONFLICT
#      DO NOTHING as a second guard.
#   4. For recycling: the numbers of the moved lines go to quarantine.
# sweep_id is left on the rows afterwards (it names the last sweep that moved
# the line); clearing it would cost a second UPDATE of every moved row.
#
# A line overdue for several steps (the worker was down) goes through each
# step in the same run, in order, with one history row per step; it gets only
# the notification of the state it lands in (a line already due for
# suspension is not told "you are in grace" first).

CHUNK_SIZE = 50_000
LIFECYCLE_ACTOR = "lifecycle job"

_CHANNELS_SQL = "(SELECT 'email' AS channel UNION ALL SELECT 'sms' AS channel)"


def _period_epoch_sql() -> str:
    """The line's period_end as whole seconds since 1970, as SQL text (a period's identity)."""
    if connection.vendor == "postgresql":
        return "CAST(CAST(FLOOR(EXTRACT(EPOCH FROM l.period_end)) AS BIGINT) AS TEXT)"
    return "strftime('%%s', l.period_end)"


def _period_longer_than_sql() -> str:
    """SQL: the line's window (period_end - period_start) is longer than the %s parameter."""
    if connection.vendor == "postgresql":
        return "l.period_end - l.period_start > %s"
    return "(julianday(l.period_end) - julianday(l.period_start)) > %s"


def _period_length_param(length: dt.timedelta) -> Any:
    if connection.vendor == "postgresql":
        return length
    return length.total_seconds() / 86400


def _when(moment: dt.datetime) -> Any:
    """A datetime as the database stores it (naive UTC text on SQLite)."""
    return connection.ops.adapt_datetimefield_value(moment)


def _uuid_param(value: uuid.UUID) -> Any:
    return Line._meta.get_field("sweep_id").get_db_prep_value(value, connection)


def _notification_insert_sql(*, select_where: str) -> str:
    """INSERT … SELECT of one queued notification per channel for the selected lines.

    Parameters, in order: created_at, send_after, template, the dedupe key
    prefix, then those of `select_where`. The SQL fragments put in by format
    are constants of this module, never input.
    """
    return f"""
        INSERT INTO notify_notification (
            created_at, send_after, recipient_id, channel, template, language, line_id,
            reference_at, context, dedupe_key, status, attempts, address, subject, body,
            last_error, sent_at
        )
        SELECT %s, %s, s.user_id, c.channel, %s, u.language, l.id,
               l.period_end, '{{}}',
               %s || CAST(l.id AS TEXT) || ':' || {_period_epoch_sql()}
                   || ':' || c.channel,
               'queued', 0, '', '', '', '', NULL
        FROM lines_line l
        JOIN accounts_subscriber s ON s.id = l.subscriber_id
        JOIN accounts_user u ON u.id = s.user_id
        CROSS JOIN {_CHANNELS_SQL} c
        WHERE {select_where}
        ON CONFLICT (dedupe_key) DO NOTHING
    """  # noqa: S608


def _sweep_chunk(
    step: lifecycle.Transition,
    *,
    now: dt.datetime,
    next_step: lifecycle.Transition | None,
    config: lifecycle.LifecycleConfig,
    chunk_size: int,
) -> int:
    sweep_id = _uuid_param(uuid.uuid4())
    at = _when(now)
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    is_recycling = step.to_state == LineState.RECYCLED
    recycled_at_sql = ", recycled_at = %s" if is_recycling else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE lines_line
            SET state = %s, state_changed_at = %s, sweep_id = %s{recycled_at_sql}
            WHERE id IN (
                SELECT id FROM lines_line
                WHERE state = %s AND period_end <= %s
                LIMIT %s{lock}
            ) AND state = %s
            """,  # noqa: S608 (the formatted fragments are constants)
            [
                step.to_state.value,
                at,
                sweep_id,
                *([at] if is_recycling else []),
                step.from_state.value,
                _when(step.cutoff(now)),
                chunk_size,
                step.from_state.value,
            ],
        )
        moved = cursor.rowcount
        if moved == 0:
            return 0
        cursor.execute(
            """
            INSERT INTO lines_lineevent (
                line_id, created_at, actor_id, actor_label, from_state, to_state, cause, note
            )
            SELECT id, %s, NULL, %s, %s, %s, %s, ''
            FROM lines_line WHERE sweep_id = %s
            """,
            [
                at,
                LIFECYCLE_ACTOR,
                step.from_state.value,
                step.to_state.value,
                step.cause,
                sweep_id,
            ],
        )
        # Only the state the line lands in this run is announced.
        where = "l.sweep_id = %s"
        where_params: list[Any] = [sweep_id]
        if next_step is not None:
            where += " AND l.period_end > %s"
            where_params.append(_when(next_step.cutoff(now)))
        cursor.execute(
            _notification_insert_sql(select_where=where),
            [at, at, step.template, f"lifecycle:{step.to_state.value}:", *where_params],
        )
        if is_recycling:
            cursor.execute(
                """
                UPDATE lines_number
                SET status = %s, quarantine_until = %s, updated_at = %s
                WHERE id IN (SELECT number_id FROM lines_line WHERE sweep_id = %s)
                """,
                [
                    NumberStatus.QUARANTINE.value,
                    _when(now + config.quarantine),
                    at,
                    sweep_id,
                ],
            )
    return moved


def sweep_lifecycle(
    now: dt.datetime | None = None, *, chunk_size: int = CHUNK_SIZE
) -> dict[str, int]:
    """Move every line whose deadline passed to its next state; release quarantined numbers.

    Safe to run twice, late or concurrently (see the comment above). Returns
    counts per step, e.g. {"active_to_grace": 12, …, "numbers_released": 3}.
    """
    now = now or timezone.now()
    config = lifecycle.current_config()
    steps = lifecycle.transitions(config)
    summary: dict[str, int] = {}
    for index, step in enumerate(steps):
        next_step = steps[index + 1] if index + 1 < len(steps) else None
        moved_total = 0
        while True:
            with transaction.atomic():
                moved = _sweep_chunk(
                    step, now=now, next_step=next_step, config=config, chunk_size=chunk_size
                )
            moved_total += moved
            if moved < chunk_size:
                break
        summary[f"{step.from_state.value}_to_{step.to_state.value}"] = moved_total
    summary["numbers_released"] = release_quarantined_numbers(now)
    return summary


def release_quarantined_numbers(now: dt.datetime | None = None) -> int:
    """Numbers whose quarantine is over become available again; returns how many."""
    now = now or timezone.now()
    return Number.objects.filter(status=NumberStatus.QUARANTINE, quarantine_until__lte=now).update(
        status=NumberStatus.AVAILABLE, quarantine_until=None, updated_at=now
    )


def queue_reminders(now: dt.datetime | None = None) -> dict[str, int]:
    """Queue every reminder whose window is open now, once per line, kind and period.

    One INSERT … SELECT per reminder window; the dedupe key
    "reminder:<window>:<line>:<period end epoch>:<channel>" makes a second run
    (or a concurrent one) insert nothing. Returns rows queued per window.
    """
    now = now or timezone.now()
    config = lifecycle.current_config()
    at = _when(now)
    summary: dict[str, int] = {}
    for window in lifecycle.reminder_windows(config):
        after, until = window.period_end_bounds(now)
        where = "l.state = %s AND l.period_end > %s AND l.period_end <= %s"
        params: list[Any] = [window.state.value, _when(after), _when(until)]
        if window.requires_period_before_window:
            where += " AND " + _period_longer_than_sql()
            params.append(_period_length_param(window.opens_before + window.deadline_offset))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                _notification_insert_sql(select_where=where),
                [at, at, window.template, f"reminder:{window.key}:", *params],
            )
            summary[window.key] = max(cursor.rowcount, 0)
    return summary


# --- After-sales: SIM swaps, eSIM re-issues, lines given back -------------------------------


def _live_line_locked(line: Line) -> Line:
    line.refresh_from_db(from_queryset=Line.objects.select_for_update())
    if line.state == LineState.RECYCLED:
        raise errors.LineNotLive(msisdn=line.msisdn)
    return line


def _move_to_sim(
    line: Line,
    card: SimCard,
    *,
    old_status: SimStatus,
    acting_user: User | None,
    cause: str,
    reason: str,
    now: dt.datetime,
) -> Line:
    old = line.sim
    SimCard.objects.filter(pk=old.pk).update(status=old_status)
    SimCard.objects.filter(pk=card.pk).update(status=SimStatus.ASSIGNED, assigned_at=now)
    card.status, card.assigned_at = SimStatus.ASSIGNED, now
    line.sim = card
    # Only the card changes: number, plan, period and buckets stay as they are.
    line.save(update_fields=["sim"])
    LineEvent.objects.create(
        line=line,
        created_at=now,
        actor=acting_user,
        actor_label=actor_label(acting_user),
        from_state=line.state,
        to_state=line.state,
        cause=cause,
        note=f"{old.iccid} → {card.iccid}: {reason}"[:300],
    )
    record_audit(
        f"line.{cause}",
        actor=acting_user,
        target=line,
        msisdn=line.msisdn,
        old_iccid=old.iccid,
        old_status=str(old_status),
        new_iccid=card.iccid,
        reason=reason[:200],
    )
    return line


@transaction.atomic
def swap_sim(
    line: Line,
    new_sim: SimCard,
    *,
    acting_user: User | None,
    reason: str,
    now: dt.datetime | None = None,
) -> Line:
    """Move the line onto another physical card from stock; the old card is marked faulty.

    The number, plan, period and buckets do not change. Refuses SimKindMismatch
    (an eSIM line is re-issued with reissue_esim), SimUnavailable (the card is
    not in stock) and LineNotLive.
    """
    now = now or timezone.now()
    line = _live_line_locked(line)
    if line.kind != SimKind.PHYSICAL or new_sim.kind != SimKind.PHYSICAL:
        raise errors.SimKindMismatch(iccid=new_sim.iccid)
    card = _claim_sim(SimKind.PHYSICAL, new_sim)
    return _move_to_sim(
        line,
        card,
        old_status=SimStatus.FAULTY,
        acting_user=acting_user,
        cause="sim_swapped",
        reason=reason,
        now=now,
    )


@transaction.atomic
def reissue_esim(
    line: Line,
    *,
    acting_user: User | None,
    reason: str,
    new_profile: SimCard | None = None,
    now: dt.datetime | None = None,
) -> Line:
    """Give an eSIM line a new profile from stock (a new activation code and QR code).

    The old profile is revoked; number, plan, period and buckets do not change.
    """
    now = now or timezone.now()
    line = _live_line_locked(line)
    if line.kind != SimKind.ESIM:
        raise errors.SimKindMismatch(iccid=line.sim.iccid)
    card = _claim_sim(SimKind.ESIM, new_profile)
    return _move_to_sim(
        line,
        card,
        old_status=SimStatus.REVOKED,
        acting_user=acting_user,
        cause="esim_reissued",
        reason=reason,
        now=now,
    )


@transaction.atomic
def close_returned_line(
    line: Line,
    *,
    acting_user: User | None,
    reason: str,
    restock_sim: bool,
    now: dt.datetime | None = None,
) -> Line:
    """End a line whose purchase was returned and refunded.

    The line is closed at once (recycled) and its buckets end now. The number
    was never used, so it goes straight back to available (no quarantine);
    the card goes back in stock when it came back unused (`restock_sim`), else
    it is revoked (an eSIM profile, a card that was not sent back).
    """
    now = now or timezone.now()
    line = _live_line_locked(line)
    from_state = line.state
    line.state = LineState.RECYCLED
    line.state_changed_at = now
    line.recycled_at = now
    if line.period_end > now:
        line.period_end = max(now, line.period_start + dt.timedelta(seconds=1))
    line.save(update_fields=["state", "state_changed_at", "recycled_at", "period_end"])
    Bucket.objects.filter(line=line, expires_at__gt=now).update(expires_at=now)
    Number.objects.filter(pk=line.number_id).update(
        status=NumberStatus.AVAILABLE, quarantine_until=None, updated_at=now
    )
    sim_status = (
        SimStatus.IN_STOCK if restock_sim and line.kind == SimKind.PHYSICAL else SimStatus.REVOKED
    )
    SimCard.objects.filter(pk=line.sim_id).update(status=sim_status)
    LineEvent.objects.create(
        line=line,
        created_at=now,
        actor=acting_user,
        actor_label=actor_label(acting_user),
        from_state=from_state,
        to_state=LineState.RECYCLED,
        cause="returned",
        note=reason[:300],
    )
    record_audit(
        "line.returned",
        actor=acting_user,
        target=line,
        msisdn=line.msisdn,
        iccid=line.sim.iccid,
        sim_status=str(sim_status),
        reason=reason[:200],
    )
    notify.cancel_queued(line=line, templates=lifecycle.STALE_AFTER_RENEWAL_TEMPLATES)
    return line


def record_network_activation(sim: SimCard, *, at: dt.datetime) -> bool:
    """The card was first seen on the network (a CDR, an attach); the earliest moment is kept."""
    return bool(
        SimCard.objects.filter(pk=sim.pk, network_activated_at__isnull=True).update(
            network_activated_at=at
        )
    )


def record_profile_download(sim: SimCard, *, at: dt.datetime) -> bool:
    """The SM-DP+ reported the eSIM profile downloaded to a phone; the earliest moment is kept."""
    return bool(
        SimCard.objects.filter(
            pk=sim.pk, kind=SimKind.ESIM, profile_downloaded_at__isnull=True
        ).update(profile_downloaded_at=at)
    )


@transaction.atomic
def terminate_line(
    line: Line,
    *,
    acting_user: User | None,
    cause: str,
    now: dt.datetime | None = None,
) -> Line:
    """End a live line at once because its owner closed their account.

    Unlike a returned purchase, the number was in use: it goes to quarantine for
    `number_quarantine_days`, as after the lifecycle's own recycling, so nobody else
    gets the closed account's calls and texts the next day. The card is revoked (a
    physical card stays with the person; an eSIM profile is dead), the buckets end
    now, auto-renew is off and the line's queued reminders are cancelled.
    """
    now = now or timezone.now()
    line = _live_line_locked(line)
    from_state = line.state
    line.state = LineState.RECYCLED
    line.state_changed_at = now
    line.recycled_at = now
    line.auto_renew = False
    if line.period_end > now:
        line.period_end = max(now, line.period_start + dt.timedelta(seconds=1))
    line.save(
        update_fields=["state", "state_changed_at", "recycled_at", "period_end", "auto_renew"]
    )
    Bucket.objects.filter(line=line, expires_at__gt=now).update(expires_at=now)
    Number.objects.filter(pk=line.number_id).update(
        status=NumberStatus.QUARANTINE,
        quarantine_until=now + lifecycle.current_config().quarantine,
        updated_at=now,
    )
    SimCard.objects.filter(pk=line.sim_id).update(status=SimStatus.REVOKED)
    LineEvent.objects.create(
        line=line,
        created_at=now,
        actor=acting_user,
        actor_label=actor_label(acting_user),
        from_state=from_state,
        to_state=LineState.RECYCLED,
        cause=cause,
    )
    record_audit("line.terminated", actor=acting_user, target=line, cause=cause)
    notify.cancel_queued(line=line, templates=lifecycle.STALE_AFTER_RENEWAL_TEMPLATES)
    return line
