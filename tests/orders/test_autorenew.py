"""Auto-renew: the schedule, wallet then card, idempotent runs, manual renewals, data top-ups."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction

from simcare.accounts.models import AuditEvent, Subscriber
from simcare.catalog.models import AddOn, Plan, UsageKind
from simcare.ledger.models import LedgerAccount
from simcare.lines.models import Bucket, BucketSource, Line
from simcare.notify.models import Notification
from simcare.ops.jobs import run_job
from simcare.orders import errors
from simcare.orders.models import (
    AutoRenewAttempt,
    AutoRenewSetting,
    Order,
    OrderState,
    SavedPaymentMethod,
)
from simcare.orders.services import autorenew, ordering
from tests.orders.card_vendor import CardVendor, ProcessKilled, card_vendor
from tests.orders.conftest import assert_ledger_clean, balance, money_snapshot

__all__ = ["card_vendor"]

NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

Fund = Callable[[Subscriber, int], LedgerAccount]
MakeLine = Callable[..., Line]
RENEWAL_CENTS = 3955  # $35 + 13 % HST


@pytest.fixture
def line(subscriber: Subscriber, plan: Plan, make_line: MakeLine) -> Line:
    with time_machine.travel(NOW, tick=False):
        made = make_line(subscriber, plan)
        autorenew.set_auto_renew(made, enabled=True, acting_user=None)
    made.refresh_from_db()
    return made


@pytest.fixture
def data_addon(db: Any) -> AddOn:
    return AddOn.objects.create(
        code="data1",
        name_en="1 GB",
        name_fr="1 Go",
        name_zh_hans="1GB",
        kind=UsageKind.DATA,
        quantity=1024,
        price_cents=1000,
        validity_days=30,
    )


def run_at(moment: dt.datetime) -> dict[str, Any]:
    with time_machine.travel(moment, tick=False):
        return run_job("auto_renew")


def attempts(line: Line) -> list[tuple[int, str, str]]:
    return list(
        AutoRenewAttempt.objects.filter(line=line)
        .order_by("period_end", "attempt")
        .values_list("attempt", "status", "failure_code")
    )


def notices(template: str) -> list[tuple[str, dict[str, Any]]]:
    return list(
        Notification.objects.filter(template=template)
        .order_by("id")
        .values_list("channel", "context")
    )


def test_the_job_is_listed_and_runs_from_the_command_line(line: Line) -> None:
    listing = io.StringIO()
    call_command("jobs", "list", stdout=listing)
    assert "auto_renew" in listing.getvalue()
    assert "*/15 * * * *" in listing.getvalue()

    output = io.StringIO()
    with time_machine.travel(NOW + HOUR, tick=False):
        call_command("jobs", "run", "auto_renew", stdout=output)

    assert json.loads(output.getvalue()) == {
        "job": "auto_renew",
        "dropped": 0,
        "scheduled": 0,
        "renewed": 0,
        "failed": 0,
        "stopped": 0,
        "waiting": 0,
        "topped_up": 0,
    }


def test_a_line_that_cannot_pay_is_tried_at_each_offset_then_stopped_and_told(
    line: Line,
) -> None:
    # given: an empty wallet and no saved card; period_end P = NOW + 30 days
    period_end = line.period_end
    before = money_snapshot()

    # when / then: nothing before P - 24 h
    assert run_at(period_end - 25 * HOUR)["scheduled"] == 0
    assert attempts(line) == []

    # attempt 1 at P - 24 h: the four rows of the period, the first one failed
    summary = run_at(period_end - 24 * HOUR)
    assert (summary["scheduled"], summary["failed"]) == (4, 1)
    assert list(
        AutoRenewAttempt.objects.filter(line=line).order_by("attempt").values_list("due_at")
    ) == [(period_end - DAY,), (period_end,), (period_end + DAY,), (period_end + 3 * DAY,)]
    assert attempts(line) == [
        (1, "failed", "wallet_short"),
        (2, "scheduled", ""),
        (3, "scheduled", ""),
        (4, "scheduled", ""),
    ]
    failed = notices("autorenew.failed")
    assert [channel for channel, _context in failed] == ["email", "sms"]
    assert failed[0][1]["next_attempt_at"].startswith(period_end.isoformat()[:19])

    # an hour later nothing is due: nothing tried
    assert run_at(period_end - 23 * HOUR)["failed"] == 0

    # attempts 2 and 3 at P and P + 1 day
    assert run_at(period_end)["failed"] == 1
    assert run_at(period_end + DAY)["failed"] == 1
    assert [status for _n, status, _code in attempts(line)] == [
        "failed",
        "failed",
        "failed",
        "scheduled",
    ]
    assert len(notices("autorenew.failed")) == 6
    assert not notices("autorenew.stopped")

    # attempt 4 at P + 3 days, the last: stopped, and the subscriber is told
    summary = run_at(period_end + 3 * DAY)
    assert (summary["failed"], summary["stopped"]) == (0, 1)
    assert [channel for channel, _context in notices("autorenew.stopped")] == ["email", "sms"]
    assert AuditEvent.objects.filter(action="line.auto_renew_stopped").count() == 1

    # and then nothing more, however often the job runs
    for later in (period_end + 4 * DAY, period_end + 10 * DAY):
        summary = run_at(later)
        assert summary["failed"] + summary["stopped"] + summary["scheduled"] == 0
    assert len(attempts(line)) == 4
    assert money_snapshot() == before
    line.refresh_from_db()
    assert line.period_end == period_end


def test_the_wallet_pays_first_and_the_card_is_not_charged(
    subscriber: Subscriber, line: Line, fund: Fund, card_vendor: CardVendor
) -> None:
    # given: enough in the wallet, and a saved card
    card = card_vendor.saved_card(subscriber)
    autorenew.set_auto_renew(line, enabled=True, payment_method=card, acting_user=None)
    fund(subscriber, 5000)
    period_end = line.period_end

    # when
    summary = run_at(period_end - DAY)

    # then
    assert summary["renewed"] == 1
    order = Order.objects.get()
    epoch = int(period_end.timestamp())
    assert (order.channel, order.payment_method, order.state, order.idempotency_key) == (
        "auto",
        "wallet",
        "fulfilled",
        f"auto:{line.pk}:{epoch}:1",
    )
    assert attempts(line) == [(1, "succeeded", "")]
    line.refresh_from_db()
    assert line.period_end == period_end + dt.timedelta(days=30)
    assert balance(subscriber) == 5000 - RENEWAL_CENTS
    assert card_vendor.charge_count() == 0
    assert Notification.objects.filter(template="order.fulfilled").count() == 1
    assert not notices("autorenew.failed")
    assert_ledger_clean()


def test_a_short_wallet_falls_back_to_the_saved_card(
    subscriber: Subscriber, line: Line, fund: Fund, card_vendor: CardVendor
) -> None:
    # given: $10 in the wallet, a working saved card
    card = card_vendor.saved_card(subscriber)
    autorenew.set_auto_renew(line, enabled=True, payment_method=card, acting_user=None)
    fund(subscriber, 1000)
    period_end = line.period_end

    # when
    summary = run_at(period_end - DAY)

    # then: one card order, settled and fulfilled; the wallet untouched
    assert summary["renewed"] == 1
    order = Order.objects.get()
    assert (order.payment_method, order.state, order.total_cents) == (
        "card",
        "fulfilled",
        RENEWAL_CENTS,
    )
    assert order.idempotency_key.endswith(":1:card")
    assert card_vendor.charge_count() == 1
    assert balance(subscriber) == 1000
    assert attempts(line) == [(1, "succeeded", "")]
    line.refresh_from_db()
    assert line.period_end == period_end + dt.timedelta(days=30)
    assert_ledger_clean()


def test_a_declined_card_fails_the_attempt_with_its_code_and_the_next_one_retries(
    subscriber: Subscriber, line: Line, card_vendor: CardVendor
) -> None:
    card = card_vendor.saved_card(subscriber, works=False)
    autorenew.set_auto_renew(line, enabled=True, payment_method=card, acting_user=None)
    period_end = line.period_end
    before_money = money_snapshot()[1:]

    assert run_at(period_end - DAY)["failed"] == 1

    [attempt_1, *_rest] = attempts(line)
    assert attempt_1[:2] == (1, "failed")
    assert attempt_1[2] in {"card_declined", "generic_decline"}
    order = Order.objects.get()
    assert (order.payment_method, order.state) == ("card", "failed")
    assert [channel for channel, _context in notices("autorenew.failed")] == ["email", "sms"]
    # the next attempt is a new order with its own key
    assert run_at(period_end)["failed"] == 1
    assert Order.objects.filter(state=OrderState.FAILED).count() == 2
    assert card_vendor.charge_count() == 0
    assert money_snapshot()[1:] == before_money
    line.refresh_from_db()
    assert line.period_end == period_end


def test_the_job_run_twice_tries_each_attempt_once(
    subscriber: Subscriber, line: Line, fund: Fund
) -> None:
    fund(subscriber, 20_000)
    moment = line.period_end - DAY

    first = run_at(moment)
    second = run_at(moment)

    assert (first["renewed"], second["renewed"]) == (1, 0)
    assert Order.objects.count() == 1
    assert AutoRenewAttempt.objects.count() == 1
    assert balance(subscriber) == 20_000 - RENEWAL_CENTS
    assert_ledger_clean()


def test_a_claimed_attempt_is_left_to_its_worker_until_the_lease_runs_out(
    subscriber: Subscriber, line: Line, fund: Fund
) -> None:
    # given: the attempts exist and another worker has just claimed attempt 1
    period_end = line.period_end
    autorenew.schedule_attempts(period_end - DAY, autorenew.current_config())
    AutoRenewAttempt.objects.filter(attempt=1).update(tried_at=period_end - DAY)
    fund(subscriber, 5000)

    # when: this worker runs at the same moment, then after the lease
    during = run_at(period_end - DAY + dt.timedelta(minutes=1))
    after = run_at(period_end - DAY + autorenew.CLAIM_LEASE + dt.timedelta(minutes=1))

    # then: tried once, after the lease, by the attempt's own key
    assert (during["renewed"], after["renewed"]) == (0, 1)
    assert Order.objects.get().idempotency_key.endswith(":1")


def test_a_line_renewed_by_hand_is_not_renewed_again_and_its_old_attempts_are_dropped(
    subscriber: Subscriber, line: Line, fund: Fund
) -> None:
    # given: attempt 1 failed (empty wallet), then the subscriber tops up and renews by hand
    period_end = line.period_end
    run_at(period_end - DAY)
    fund(subscriber, 5000)
    with time_machine.travel(period_end - 12 * HOUR, tick=False):
        ordering.renew(
            line,
            channel="web",
            payment_method="wallet",
            idempotency_key="user:1:x",
            acting_user=None,
        )

    # when: the job runs at the old period's next offsets
    summaries = [run_at(period_end), run_at(period_end + DAY)]

    # then: only the manual renewal; the old period's pending attempts are gone
    assert summaries[0]["dropped"] == 3
    assert sum(summary["renewed"] for summary in summaries) == 0
    assert Order.objects.get().channel == "web"
    assert attempts(line) == [(1, "failed", "wallet_short")]
    line.refresh_from_db()
    assert line.period_end == period_end + dt.timedelta(days=30)
    assert balance(subscriber) == 5000 - RENEWAL_CENTS


def test_a_line_renewed_by_hand_before_the_first_attempt_gets_none(
    subscriber: Subscriber, line: Line, fund: Fund
) -> None:
    fund(subscriber, 5000)
    period_end = line.period_end
    with time_machine.travel(period_end - 2 * DAY, tick=False):
        ordering.renew(
            line,
            channel="web",
            payment_method="wallet",
            idempotency_key="user:1:y",
            acting_user=None,
        )

    summary = run_at(period_end - DAY)

    assert (summary["scheduled"], summary["renewed"]) == (0, 0)
    assert Order.objects.count() == 1


def test_turning_auto_renew_off_drops_the_pending_attempts(line: Line) -> None:
    run_at(line.period_end - DAY)

    autorenew.set_auto_renew(line, enabled=False, acting_user=None)

    assert attempts(line) == [(1, "failed", "wallet_short")]
    summary = run_at(line.period_end + DAY)
    assert summary["failed"] + summary["scheduled"] == 0
    line.refresh_from_db()
    assert line.auto_renew is False


def test_a_worker_killed_after_the_card_charge_renews_once_on_the_next_run(
    subscriber: Subscriber, line: Line, card_vendor: CardVendor
) -> None:
    if not card_vendor.is_fake:
        pytest.skip("the in-memory vendor stands for a worker dying mid-charge")
    assert card_vendor.fake is not None
    card = card_vendor.saved_card(subscriber)
    autorenew.set_auto_renew(line, enabled=True, payment_method=card, acting_user=None)
    period_end = line.period_end
    card_vendor.fake.die_after_next_charge = True

    # when: the worker dies after the vendor charged, before the order settled
    with pytest.raises(ProcessKilled):
        run_at(period_end - DAY)

    # then: charged, not yet renewed; the order waits, pending
    pending = Order.objects.get()
    assert pending.state == OrderState.PENDING
    line.refresh_from_db()
    assert line.period_end == period_end

    # when: the next run after the lease
    summary = run_at(period_end - DAY + autorenew.CLAIM_LEASE + dt.timedelta(minutes=5))

    # then: the same order, the same charge, one renewal
    assert summary["renewed"] == 1
    assert Order.objects.get().state == OrderState.FULFILLED
    assert card_vendor.charge_count() == 1
    line.refresh_from_db()
    assert line.period_end == period_end + dt.timedelta(days=30)
    assert attempts(line) == [(1, "succeeded", "")]
    assert_ledger_clean()


def test_a_charge_stripe_did_not_answer_waits_and_blocks_later_attempts_until_settled(
    subscriber: Subscriber, line: Line, fund: Fund, card_vendor: CardVendor
) -> None:
    if not card_vendor.is_fake:
        pytest.skip("the in-memory vendor loses the answer of a charge it made")
    assert card_vendor.fake is not None
    card = card_vendor.saved_card(subscriber)
    autorenew.set_auto_renew(line, enabled=True, payment_method=card, acting_user=None)
    period_end = line.period_end
    card_vendor.fake.unreachable = True

    # when: the charge's answer is lost
    first = run_at(period_end - DAY)

    # then: the order waits, pending; the attempt is still scheduled
    assert first["waiting"] == 1
    assert Order.objects.get().state == OrderState.PENDING
    assert attempts(line)[0] == (1, "scheduled", "payment_provider_unavailable")
    assert not notices("autorenew.failed")

    # when: money arrives in the wallet and attempt 2 comes due, Stripe still silent
    fund(subscriber, 10_000)
    second = run_at(period_end)

    # then: neither the wallet nor attempt 2 was tried; the card order still waits
    assert (second["renewed"], second["waiting"]) == (0, 1)
    assert Order.objects.count() == 1
    assert balance(subscriber) == 10_000

    # when: Stripe answers again
    card_vendor.fake.unreachable = False
    settled_at = period_end + autorenew.CLAIM_LEASE + HOUR
    third = run_at(settled_at)

    # then: the one charge settles the one order; the wallet is untouched
    assert third["renewed"] == 1
    assert card_vendor.charge_count() == 1
    assert Order.objects.get().state == OrderState.FULFILLED
    assert balance(subscriber) == 10_000
    line.refresh_from_db()
    # settled after period_end: the new period runs from then
    assert line.period_end == settled_at + dt.timedelta(days=30)
    assert_ledger_clean()


def test_a_line_in_grace_is_renewed_from_now_by_a_later_attempt(
    subscriber: Subscriber, line: Line, fund: Fund
) -> None:
    # given: attempts 1 and 2 failed, the lifecycle job put the line in grace
    period_end = line.period_end
    run_at(period_end - DAY)
    run_at(period_end)
    with time_machine.travel(period_end + HOUR, tick=False):
        run_job("lifecycle")
    line.refresh_from_db()
    assert line.state == "grace"
    fund(subscriber, 5000)

    # when: attempt 3, a day after period_end
    summary = run_at(period_end + DAY)

    # then: renewed, the new period from now
    assert summary["renewed"] == 1
    line.refresh_from_db()
    assert line.state == "active"
    assert line.period_end == period_end + DAY + dt.timedelta(days=30)
    assert [status for _n, status, _code in attempts(line)] == ["failed", "failed", "succeeded"]


# --- the choices ---------------------------------------------------------------------------------


def test_the_choices_are_checked_and_audited(
    subscriber: Subscriber,
    line: Line,
    data_addon: AddOn,
    make_subscriber: Callable[..., Subscriber],
) -> None:
    stranger_card = SavedPaymentMethod.objects.create(
        subscriber=make_subscriber(), customer_reference="cus_x", method_reference="pm_x"
    )
    voice = AddOn.objects.create(
        code="ld60",
        name_en="60 min",
        name_fr="60 min",
        name_zh_hans="60分钟",
        kind=UsageKind.VOICE,
        quantity=60,
        price_cents=500,
        validity_days=30,
    )
    refusals = []
    for choice in (
        {"payment_method": stranger_card},
        {"data_topup_addon": voice},
        {"data_topup_addon": data_addon, "threshold_kb": 10},
        {"data_topup_addon": data_addon, "threshold_kb": 2048 * 1024},
    ):
        with pytest.raises(errors.AutoRenewChoiceInvalid) as refused:
            autorenew.set_auto_renew(line, enabled=True, acting_user=None, **choice)
        refusals.append(refused.value.details["reason"])
    assert refusals == ["payment_method", "addon", "threshold", "threshold_above_addon"]

    setting = autorenew.set_auto_renew(
        line, enabled=True, data_topup_addon=data_addon, threshold_kb=256 * 1024, acting_user=None
    )

    assert (setting.data_topup_enabled, setting.data_topup_threshold_kb) == (True, 256 * 1024)
    assert AuditEvent.objects.filter(action="line.auto_renew_set").count() == 2


# --- the data auto-top-up ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_card_top_up_waits_for_the_commit(
    subscriber: Subscriber, line: Line, data_addon: AddOn, card_vendor: CardVendor
) -> None:
    card = card_vendor.saved_card(subscriber)
    autorenew.set_auto_renew(
        line, enabled=True, payment_method=card, data_topup_addon=data_addon, acting_user=None
    )
    moment = NOW + DAY
    with time_machine.travel(moment, tick=False):
        _use_data_down_to(line, 0)

        # a rating transaction that rolls back: nothing charged, nothing bought
        def failing_rating() -> None:
            with transaction.atomic():
                assert autorenew.maybe_top_up_data(line) is None
                raise RuntimeError("the rating failed")

        with pytest.raises(RuntimeError):
            failing_rating()
        assert (Order.objects.count(), card_vendor.charge_count()) == (0, 0)

        # one that commits: the card is charged after the commit
        with transaction.atomic():
            assert autorenew.maybe_top_up_data(line) is None
            assert card_vendor.charge_count() == 0

    order = Order.objects.get()
    assert (order.kind, order.payment_method, order.state) == ("addon", "card", "fulfilled")
    assert card_vendor.charge_count() == 1


def _use_data_down_to(line: Line, left_kb: int) -> None:
    bucket = Bucket.objects.filter(line=line, kind=UsageKind.DATA).order_by("-pk").first()
    assert bucket is not None
    assert bucket.total is not None
    for older in Bucket.objects.filter(line=line, kind=UsageKind.DATA).exclude(pk=bucket.pk):
        Bucket.objects.filter(pk=older.pk).update(used=older.total)
    Bucket.objects.filter(pk=bucket.pk).update(used=bucket.total - left_kb)


def test_the_data_top_up_buys_once_per_crossing_from_the_wallet(
    subscriber: Subscriber, line: Line, fund: Fund, data_addon: AddOn
) -> None:
    autorenew.set_auto_renew(
        line, enabled=True, data_topup_addon=data_addon, threshold_kb=512 * 1024, acting_user=None
    )
    fund(subscriber, 5000)
    moment = NOW + 2 * DAY

    with time_machine.travel(moment, tick=False):
        # above the threshold: nothing
        _use_data_down_to(line, 600 * 1024)
        assert autorenew.maybe_top_up_data(line) is None

        # under it: one add-on, however often asked
        _use_data_down_to(line, 100 * 1024)
        first = autorenew.maybe_top_up_data(line)
        again = autorenew.maybe_top_up_data(line)
        assert first is not None
        assert first.state == OrderState.FULFILLED
        assert again is None or again.pk == first.pk
        assert (first.kind, first.channel, first.payment_method, first.total_cents) == (
            "addon",
            "auto",
            "wallet",
            1130,
        )
        assert Bucket.objects.filter(line=line, source=BucketSource.ADDON).count() == 1

        # the add-on's data runs low too: a new crossing, a second add-on
        _use_data_down_to(line, 10 * 1024)
        second = autorenew.maybe_top_up_data(line)

    assert second is not None
    assert second.pk != first.pk
    assert Order.objects.filter(kind="addon").count() == 2
    assert balance(subscriber) == 5000 - 2 * 1130
    assert_ledger_clean()


@pytest.mark.django_db(transaction=True)
def test_the_job_sweeps_data_top_ups_and_falls_back_to_the_card(
    subscriber: Subscriber, line: Line, data_addon: AddOn, card_vendor: CardVendor
) -> None:
    card = card_vendor.saved_card(subscriber)
    autorenew.set_auto_renew(
        line,
        enabled=True,
        payment_method=card,
        data_topup_addon=data_addon,
        threshold_kb=512 * 1024,
        acting_user=None,
    )
    moment = NOW + 3 * DAY
    with time_machine.travel(moment, tick=False):
        _use_data_down_to(line, 1024)

    first = run_at(moment)
    second = run_at(moment + HOUR)

    assert (first["topped_up"], second["topped_up"]) == (1, 0)
    order = Order.objects.get()
    assert (order.kind, order.payment_method, order.state) == ("addon", "card", "fulfilled")
    assert card_vendor.charge_count() == 1
    assert AutoRenewSetting.objects.get(line=line).data_topup_enabled
    assert_ledger_clean()


@pytest.mark.django_db(transaction=True)
def test_no_top_up_without_money_and_no_card(
    subscriber: Subscriber, line: Line, data_addon: AddOn
) -> None:
    autorenew.set_auto_renew(line, enabled=True, data_topup_addon=data_addon, acting_user=None)
    before = money_snapshot()
    with time_machine.travel(NOW + DAY, tick=False):
        _use_data_down_to(line, 0)
        assert autorenew.maybe_top_up_data(line) is None
    assert money_snapshot() == before
