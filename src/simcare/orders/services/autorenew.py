"""Auto-renew: the attempts of the `auto_renew` job, and the optional data auto-top-up.

The schedule (20-money.md "Renewals"), per line with auto_renew on, in active or
grace, and per period (the line's period_end P), from settings.SIMCARE_AUTO_RENEW:

    attempt 1 at P - lead_hours (24 h), then one per retry_offsets_hours: P, P + 1 day,
    P + 3 days; after the last one fails: stop, notify "autorenew.stopped".

Each attempt is an AutoRenewAttempt row, unique per (line, period_end, attempt): the
job creates the rows of a period when its first attempt comes due (INSERT … ON
CONFLICT DO NOTHING, so two jobs at once create them once) and drops the scheduled
rows of a period that is no longer the line's (renewed by hand, auto-renew turned
off, the line suspended).

An attempt is claimed with a conditional UPDATE (status scheduled and no live lease:
tried_at empty or older than CLAIM_LEASE), so of two workers at once one tries it;
a worker killed mid-attempt leaves its lease, and the attempt is tried again once
the lease has run out. What makes a retry safe is the order's idempotency key,
"auto:<line>:<period_end epoch>:<attempt>" (":card" appended for the card order):

- wallet: ordering.renew in one database transaction with the attempt's success:
  either the wallet was debited, the line extended and the attempt marked, or
  nothing happened (a kill -9 inside rolls it all back);
- saved card, when the wallet is short: a pending card order is committed first,
  then services.cards.charge_saved_method charges it (Stripe's own idempotency
  key is the order's) and settles it, which renews in one transaction. A retry
  finds the same pending order and charges it again, which Stripe answers with
  the first charge: one charge, one renewal. While a card order of an attempt is
  pending (the charge is processing, or the provider could not be reached), the
  wallet is not tried and no later attempt runs, so a late webhook can never
  renew a second time.

Per line and period the job tries at most one attempt per run, the lowest one due:
after downtime the missed attempts follow each other one run apart.

The data auto-top-up (maybe_top_up_data) buys the chosen add-on when the data left
in the line's current buckets falls under the threshold, once per crossing: its
key names the newest current data bucket, and the bought add-on is a new bucket.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from simcare.accounts.models import User
from simcare.accounts.services import record_audit
from simcare.catalog.models import AddOn, UsageKind
from simcare.kit.problems import DomainError
from simcare.lines.models import Bucket, Line, LineState
from simcare.notify import services as notify
from simcare.orders import errors
from simcare.orders.models import (
    AttemptStatus,
    AutoRenewAttempt,
    AutoRenewSetting,
    Order,
    OrderKind,
    OrderState,
    PaymentMethod,
    PaymentStatus,
    SalesChannel,
    SavedPaymentMethod,
)
from simcare.orders.services import ordering

logger = logging.getLogger(__name__)

RENEWABLE_STATES = (LineState.ACTIVE, LineState.GRACE)
# A claimed attempt another worker has not finished within this time is taken again.
CLAIM_LEASE = dt.timedelta(minutes=10)
BATCH_SIZE = 500
MIN_THRESHOLD_KB = 1024
MAX_THRESHOLD_KB = 100 * 1024 * 1024
WALLET_SHORT = "wallet_short"


@dataclass(frozen=True)
class AutoRenewConfig:
    lead: dt.timedelta
    retry_offsets: tuple[dt.timedelta, ...]

    @property
    def attempts(self) -> int:
        return 1 + len(self.retry_offsets)


def current_config() -> AutoRenewConfig:
    """settings.SIMCARE_AUTO_RENEW, read each time (tests override it)."""
    configured: dict[str, Any] = getattr(settings, "SIMCARE_AUTO_RENEW", {}) or {}
    lead_hours = int(configured.get("lead_hours", 24))
    offsets = [int(hours) for hours in configured.get("retry_offsets_hours", [0, 24, 72])]
    if lead_hours < 0 or any(hours < -lead_hours for hours in offsets):
        raise ValueError("auto-renew retries must come after the first attempt")
    return AutoRenewConfig(
        lead=dt.timedelta(hours=lead_hours),
        retry_offsets=tuple(dt.timedelta(hours=hours) for hours in sorted(offsets)),
    )


def attempt_times(period_end: dt.datetime, config: AutoRenewConfig) -> list[dt.datetime]:
    """When attempts 1, 2, … of the period ending at period_end are due."""
    return [period_end - config.lead, *(period_end + offset for offset in config.retry_offsets)]


def _epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def attempt_key(line_id: int, period_end: dt.datetime, attempt: int) -> str:
    """The idempotency key of the attempt's wallet order; the card order appends ":card"."""
    return f"auto:{line_id}:{_epoch(period_end)}:{attempt}"


# --- the choices -------------------------------------------------------------------------------


@transaction.atomic
def set_auto_renew(
    line: Line,
    *,
    enabled: bool,
    payment_method: SavedPaymentMethod | None = None,
    data_topup_addon: AddOn | None = None,
    threshold_kb: int | None = None,
    acting_user: User | None,
) -> AutoRenewSetting:
    """Turn auto-renew on or off and set what it pays with and the data auto-top-up.

    payment_method: the saved card charged when the wallet is short (None: wallet only).
    data_topup_addon: the data add-on bought when data runs low (None: no auto-top-up);
    threshold_kb: under how much data left it buys (None: keep the current one).
    Refuses AutoRenewChoiceInvalid (another subscriber's or a removed card, an add-on
    not for data or not on sale, a threshold out of range, a closed line).
    """
    line = Line.objects.select_for_update().get(pk=line.pk)
    if line.state == LineState.RECYCLED:
        raise errors.AutoRenewChoiceInvalid(reason="line")
    if payment_method is not None and (
        payment_method.subscriber_id != line.subscriber_id or payment_method.removed_at is not None
    ):
        raise errors.AutoRenewChoiceInvalid(reason="payment_method")
    if data_topup_addon is not None and (
        data_topup_addon.kind != UsageKind.DATA or not data_topup_addon.is_active
    ):
        raise errors.AutoRenewChoiceInvalid(reason="addon")
    if threshold_kb is not None and (
        isinstance(threshold_kb, bool) or not MIN_THRESHOLD_KB <= threshold_kb <= MAX_THRESHOLD_KB
    ):
        raise errors.AutoRenewChoiceInvalid(reason="threshold")

    setting, _created = AutoRenewSetting.objects.select_for_update().get_or_create(line=line)
    setting.payment_method = payment_method
    setting.data_topup_addon = data_topup_addon
    setting.data_topup_enabled = data_topup_addon is not None
    if threshold_kb is not None:
        setting.data_topup_threshold_kb = threshold_kb
    if (
        data_topup_addon is not None
        and data_topup_addon.quantity * 1024 <= setting.data_topup_threshold_kb
    ):
        # An add-on smaller than the threshold would leave the line under it: bought again
        # at once, and again.
        raise errors.AutoRenewChoiceInvalid(reason="threshold_above_addon")
    setting.updated_at = timezone.now()
    setting.save()
    if line.auto_renew != enabled:
        Line.objects.filter(pk=line.pk).update(auto_renew=enabled)
        line.auto_renew = enabled
    if not enabled:
        AutoRenewAttempt.objects.filter(line=line, status=AttemptStatus.SCHEDULED).delete()
    record_audit(
        "line.auto_renew_set",
        actor=acting_user,
        target=line,
        enabled=enabled,
        payment_method=payment_method.pk if payment_method is not None else None,
        data_topup_addon=data_topup_addon.code if data_topup_addon is not None else None,
        threshold_kb=setting.data_topup_threshold_kb,
    )
    return setting


# --- the job -----------------------------------------------------------------------------------


def run_auto_renew(now: dt.datetime | None = None) -> dict[str, int]:
    """One run of the `auto_renew` job: schedule, drop stale attempts, try the due ones, top up."""
    now = now or timezone.now()
    config = current_config()
    summary = {"dropped": drop_stale_attempts(), "scheduled": schedule_attempts(now, config)}
    outcomes = {"renewed": 0, "failed": 0, "stopped": 0, "waiting": 0}
    for attempt_id in _due_attempt_ids(now):
        outcome = try_attempt(attempt_id, now=now, config=config)
        if outcome in outcomes:
            outcomes[outcome] += 1
    summary.update(outcomes)
    summary["topped_up"] = sweep_data_topups(now)
    return summary


def drop_stale_attempts() -> int:
    """Delete scheduled attempts whose period is no longer their line's, or whose line left."""
    stale = AutoRenewAttempt.objects.filter(status=AttemptStatus.SCHEDULED).exclude(
        line__auto_renew=True,
        line__state__in=RENEWABLE_STATES,
        period_end=F("line__period_end"),
    )
    deleted, _per_model = stale.delete()
    return deleted


def schedule_attempts(now: dt.datetime, config: AutoRenewConfig) -> int:
    """Create the attempt rows of every period whose first attempt is due; returns how many."""
    already = AutoRenewAttempt.objects.filter(
        line=OuterRef("pk"), period_end=OuterRef("period_end")
    )
    due = (
        Line.objects.filter(
            auto_renew=True,
            state__in=RENEWABLE_STATES,
            period_end__lte=now + config.lead,
        )
        .filter(~Exists(already))
        .order_by("pk")
        .values_list("pk", "period_end")
    )
    created = 0
    last_pk = 0
    while True:
        batch = list(due.filter(pk__gt=last_pk)[:BATCH_SIZE])
        if not batch:
            return created
        rows = [
            AutoRenewAttempt(line_id=line_id, period_end=period_end, attempt=number, due_at=due_at)
            for line_id, period_end in batch
            for number, due_at in enumerate(attempt_times(period_end, config), start=1)
        ]
        AutoRenewAttempt.objects.bulk_create(rows, ignore_conflicts=True)
        created += len(rows)
        last_pk = batch[-1][0]


def _due_attempt_ids(now: dt.datetime) -> list[int]:
    """The lowest still-scheduled attempt of each (line, period) that is due now."""
    rows = (
        AutoRenewAttempt.objects.filter(status=AttemptStatus.SCHEDULED)
        .filter(
            Exists(
                AutoRenewAttempt.objects.filter(
                    line=OuterRef("line"),
                    period_end=OuterRef("period_end"),
                    status=AttemptStatus.SCHEDULED,
                    due_at__lte=now,
                )
            )
        )
        .order_by("line", "period_end", "attempt")
        .values_list("pk", "line", "period_end", "due_at")
    )
    chosen: list[int] = []
    seen: set[tuple[int, dt.datetime]] = set()
    for attempt_id, line_id, period_end, due_at in rows.iterator(chunk_size=2000):
        if (line_id, period_end) in seen:
            continue
        seen.add((line_id, period_end))
        if due_at <= now:
            chosen.append(attempt_id)
    return chosen


def _claim(attempt_id: int, now: dt.datetime) -> bool:
    """Take the attempt for this worker: one conditional UPDATE, committed at once."""
    with transaction.atomic():
        claimed = (
            AutoRenewAttempt.objects.filter(pk=attempt_id, status=AttemptStatus.SCHEDULED)
            .filter(Q(tried_at__isnull=True) | Q(tried_at__lte=now - CLAIM_LEASE))
            .update(tried_at=now)
        )
    return claimed == 1


def try_attempt(attempt_id: int, *, now: dt.datetime, config: AutoRenewConfig) -> str:
    """Try one attempt; returns renewed, failed, stopped, waiting, dropped or busy."""
    if not _claim(attempt_id, now):
        return "busy"
    attempt = AutoRenewAttempt.objects.select_related("line").get(pk=attempt_id)
    line = attempt.line
    if not _still_due(line, attempt):
        attempt.delete()
        return "dropped"
    key = attempt_key(line.pk, attempt.period_end, attempt.attempt)
    card_order = Order.objects.filter(idempotency_key=f"{key}:card").first()
    if card_order is None:
        outcome = _try_wallet(attempt, key=key, now=now)
        if outcome is not None:
            return outcome
    setting = AutoRenewSetting.objects.filter(line=line).select_related("payment_method").first()
    method = setting.payment_method if setting is not None else None
    result = _pay_by_card(
        card_order,
        method,
        place=lambda: ordering.renew(
            line,
            channel=SalesChannel.AUTO,
            payment_method=PaymentMethod.CARD,
            idempotency_key=f"{key}:card",
            acting_user=None,
            now=now,
        ),
    )
    if result.order is not None and result.order.state == OrderState.FULFILLED:
        _succeed(attempt, result.order)
        return "renewed"
    if result.waiting:
        AutoRenewAttempt.objects.filter(pk=attempt.pk).update(
            order=result.order, failure_code=result.code
        )
        return "waiting"
    return _fail(attempt, code=result.code, order=result.order, config=config, now=now)


def _still_due(line: Line, attempt: AutoRenewAttempt) -> bool:
    return (
        line.auto_renew and line.state in RENEWABLE_STATES and line.period_end == attempt.period_end
    )


def _try_wallet(attempt: AutoRenewAttempt, *, key: str, now: dt.datetime) -> str | None:
    """The wallet step, with the attempt's success in the same transaction; None if short."""
    try:
        with transaction.atomic():
            # Under the line's lock: a renewal by hand that committed since the check
            # above moved period_end, and this attempt is not needed any more.
            line = Line.objects.select_for_update().get(pk=attempt.line_id)
            if not _still_due(line, attempt):
                attempt.delete()
                return "dropped"
            order = ordering.renew(
                line,
                channel=SalesChannel.AUTO,
                payment_method=PaymentMethod.WALLET,
                idempotency_key=key,
                acting_user=None,
                now=now,
            )
            _succeed(attempt, order)
    except errors.WalletShort:
        return None
    except DomainError as refusal:
        config = current_config()
        return _fail(attempt, code=refusal.code, order=None, config=config, now=now)
    return "renewed"


@dataclass(frozen=True)
class CardResult:
    order: Order | None
    code: str
    waiting: bool = False


def cards_adapter() -> ModuleType | None:
    """services.cards when it is installed and has its keys; None means no card step."""
    try:
        module = importlib.import_module("simcare.orders.services.cards")
    except ModuleNotFoundError:
        return None
    if not (hasattr(module, "charge_saved_method") and module.is_configured()):
        return None
    return module


def _pay_by_card(
    order: Order | None, method: SavedPaymentMethod | None, *, place: Callable[[], Order]
) -> CardResult:
    """Place (or find) the pending card order and charge the saved card off session."""
    if order is not None and order.state != OrderState.PENDING:
        code = "" if order.state == OrderState.FULFILLED else order.failure_code or "card_failed"
        return CardResult(order, code)
    adapter = cards_adapter()
    if adapter is None or method is None or method.removed_at is not None:
        if order is not None:
            # An earlier try may have been charged without an answer: never give up a
            # pending order here; the provider's webhook or a later try settles it.
            return CardResult(order, "payment_method_unavailable", waiting=True)
        return CardResult(None, WALLET_SHORT)
    if order is None:
        try:
            order = place()
        except DomainError as refusal:
            unavailable = isinstance(refusal, errors.PaymentMethodUnavailable)
            return CardResult(None, WALLET_SHORT if unavailable else refusal.code)
    return _charge(adapter, order, method)


def _charge(adapter: ModuleType, order: Order, method: SavedPaymentMethod) -> CardResult:
    try:
        payment = adapter.charge_saved_method(order, method)
    except DomainError as refusal:
        if getattr(refusal, "retryable", False):
            # The provider may have charged: keep the order pending and try it again later.
            logger.warning("auto-renew card charge of order %s not answered", order.pk)
            return CardResult(order, refusal.code, waiting=True)
        return CardResult(ordering.fail_order(order, code=refusal.code), refusal.code)
    order.refresh_from_db()
    if order.state == OrderState.FULFILLED:
        return CardResult(order, "")
    if payment.status == PaymentStatus.FAILED:
        code = payment.failure_code or "card_declined"
        return CardResult(ordering.fail_order(order, code=code), code)
    return CardResult(order, "payment_processing", waiting=True)


def _succeed(attempt: AutoRenewAttempt, order: Order) -> None:
    AutoRenewAttempt.objects.filter(pk=attempt.pk).update(
        status=AttemptStatus.SUCCEEDED, order=order, failure_code=""
    )
    # The other attempts of the period are not needed any more.
    AutoRenewAttempt.objects.filter(
        line_id=attempt.line_id, period_end=attempt.period_end, status=AttemptStatus.SCHEDULED
    ).exclude(pk=attempt.pk).delete()


@transaction.atomic
def _fail(
    attempt: AutoRenewAttempt,
    *,
    code: str,
    order: Order | None,
    config: AutoRenewConfig,
    now: dt.datetime,
) -> str:
    updated = AutoRenewAttempt.objects.filter(pk=attempt.pk, status=AttemptStatus.SCHEDULED).update(
        status=AttemptStatus.FAILED, failure_code=code[:60], order=order, tried_at=now
    )
    if not updated:
        return "busy"
    line = attempt.line
    following = (
        AutoRenewAttempt.objects.filter(
            line=line,
            period_end=attempt.period_end,
            attempt__gt=attempt.attempt,
            status=AttemptStatus.SCHEDULED,
        )
        .order_by("attempt")
        .first()
    )
    recipient = line.subscriber.user
    epoch = _epoch(attempt.period_end)
    if following is None or attempt.attempt >= config.attempts:
        record_audit(
            "line.auto_renew_stopped",
            actor=None,
            target=line,
            period_end=attempt.period_end.isoformat(),
            attempts=attempt.attempt,
            code=code,
        )
        notify.enqueue(
            "autorenew.stopped",
            recipient=recipient,
            line=line,
            reference_at=attempt.period_end,
            context={"attempts": attempt.attempt, "failure_code": code},
            dedupe_key=f"autorenew.stopped:{line.pk}:{epoch}",
            now=now,
        )
        return "stopped"
    notify.enqueue(
        "autorenew.failed",
        recipient=recipient,
        line=line,
        reference_at=attempt.period_end,
        context={
            "attempt": attempt.attempt,
            "failure_code": code,
            "next_attempt_at": following.due_at,
        },
        dedupe_key=f"autorenew.failed:{line.pk}:{epoch}:{attempt.attempt}",
        now=now,
    )
    return "failed"


# --- the data auto-top-up ----------------------------------------------------------------------


def _current_data(line: Line, addon: AddOn, now: dt.datetime) -> tuple[int | None, Bucket | None]:
    """Data left in the line's current buckets of the add-on's zone (None: unlimited),
    and the newest of those buckets."""
    buckets = list(
        Bucket.objects.filter(
            line=line,
            kind=UsageKind.DATA,
            zone=addon.zone,
            starts_at__lte=now,
            expires_at__gt=now,
        ).order_by("pk")
    )
    if not buckets:
        return 0, None
    if any(bucket.total is None for bucket in buckets):
        return None, buckets[-1]
    return sum((bucket.total or 0) - bucket.used for bucket in buckets), buckets[-1]


def maybe_top_up_data(line: Line, *, now: dt.datetime | None = None) -> Order | None:
    """Buy the line's data auto-top-up add-on if its data fell under the threshold.

    Called by the usage rating after it rated a line's data, and by the auto_renew
    job as a sweep. Once per crossing: the key is (line, newest current data bucket,
    threshold), and the add-on bought is a newer bucket. Wallet first, then the
    saved card. Returns the order of this crossing (fulfilled; for a card also
    failed or pending), None when nothing is due, or when the wallet is short and
    there is no card to charge (the next call tries again). Called inside a
    transaction, the card step waits until that transaction commits
    (transaction.on_commit), and None is returned.
    """
    order, _is_new = _top_up(line, now=now or timezone.now())
    return order


def _due_top_up(line: Line, now: dt.datetime) -> tuple[AutoRenewSetting, str] | None:
    """The line's setting and the key of the crossing, when its data is under the threshold."""
    setting = (
        AutoRenewSetting.objects.filter(line_id=line.pk, data_topup_enabled=True)
        .select_related("data_topup_addon", "payment_method", "line")
        .first()
    )
    if setting is None or setting.data_topup_addon is None:
        return None
    addon = setting.data_topup_addon
    if setting.line.state != LineState.ACTIVE or not addon.is_active:
        return None
    left, newest = _current_data(setting.line, addon, now)
    if left is None or newest is None or left >= setting.data_topup_threshold_kb:
        return None
    return setting, f"topup:{line.pk}:{newest.pk}:{setting.data_topup_threshold_kb}"


def _top_up(line: Line, *, now: dt.datetime) -> tuple[Order | None, bool]:
    due = _due_top_up(line, now)
    if due is None:
        return None, False
    setting, key = due
    line = setting.line
    addon = setting.data_topup_addon
    earlier = Order.objects.filter(idempotency_key__in=[key, f"{key}:card"]).first()
    if earlier is not None and (
        earlier.payment_method == PaymentMethod.WALLET or earlier.state != OrderState.PENDING
    ):
        return earlier, False

    def place(payment_method: str) -> Order:
        return ordering.place_order(
            kind=OrderKind.ADDON,
            channel=SalesChannel.AUTO,
            subscriber=line.subscriber,
            payment_method=payment_method,
            idempotency_key=key if payment_method == PaymentMethod.WALLET else f"{key}:card",
            acting_user=None,
            addon=addon,
            line=line,
            now=now,
        )

    if earlier is None:
        try:
            return place(PaymentMethod.WALLET), True
        except errors.WalletShort:
            pass
        except DomainError as refusal:
            logger.info("data auto-top-up of line %s refused: %s", line.pk, refusal.code)
            return None, False
    if transaction.get_connection().in_atomic_block:
        # The caller's transaction (the usage rating's) may still roll back: charge the
        # card only once it committed, outside it, so no charge outlives its order.
        line_id = line.pk
        transaction.on_commit(lambda: _top_up(Line(pk=line_id), now=now))
        return None, False
    result = _pay_by_card(earlier, setting.payment_method, place=lambda: place(PaymentMethod.CARD))
    return result.order, result.order is not None and earlier is None


def sweep_data_topups(now: dt.datetime | None = None) -> int:
    """The data auto-top-up of every active line that has it on; returns the orders placed."""
    now = now or timezone.now()
    line_ids = AutoRenewSetting.objects.filter(
        data_topup_enabled=True,
        data_topup_addon__isnull=False,
        line__state=LineState.ACTIVE,
    ).values_list("line_id", flat=True)
    placed = 0
    for line_id in line_ids.iterator(chunk_size=2000):
        _order, is_new = _top_up(Line(pk=line_id), now=now)
        placed += int(is_new)
    return placed
