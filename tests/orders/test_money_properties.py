"""Money invariants under random sequences of top-ups, renewals, refunds, coupons, add-ons
and voucher redemptions, all through the order services.

A hypothesis state machine keeps its own model of the wallet and the line and checks
after every step: each transaction sums to zero, the wallet equals the model, its
cached balance and the sum of its entries, no wallet is below its overdraft limit,
`ledger verify` is clean, and a refused step changed nothing at all.

Top-ups go through a card order settled by Stripe when services/cards.py is on the
branch, else as the ledger transfer a settled card top-up posts; voucher redemptions
run when services/vouchers.py is on the branch.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.management import call_command
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from simcare.accounts import services as account_services
from simcare.catalog.models import AddOn, Plan, UsageKind
from simcare.kit.problems import DomainError
from simcare.ledger import queries
from simcare.ledger import services as ledger
from simcare.ledger.models import LIMITED_KINDS, LedgerAccount, LedgerEntry
from simcare.lines import services as line_services
from simcare.lines.models import Line, Number, SimCard, SimKind
from simcare.orders import errors
from simcare.orders.models import Coupon, Order, OrderState
from simcare.orders.services import ordering
from tests.lines.stock_support import iccid
from tests.orders.conftest import money_snapshot

_numbers = itertools.count(1)
HAS_CARDS = importlib.util.find_spec("simcare.orders.services.cards") is not None
HAS_VOUCHERS = importlib.util.find_spec("simcare.orders.services.vouchers") is not None
VOUCHER_CENTS = 2500


@dataclass
class Sold:
    """What the model knows of a fulfilled order it may refund."""

    pk: int
    total_cents: int
    refunded_cents: int = 0


class MoneyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        number = next(_numbers)
        self.subscriber = account_services.create_subscriber(
            username=f"money{number}", password=None, email=f"money{number}@example.com"
        )
        self.plans = [
            Plan.objects.create(
                code=f"month{number}",
                name_en="Month",
                name_fr="Mois",
                name_zh_hans="月",
                price_cents=3500,
                validity_days=30,
            ),
            Plan.objects.create(
                code=f"week{number}",
                name_en="Week",
                name_fr="Semaine",
                name_zh_hans="周",
                price_cents=1299,
                validity_days=7,
            ),
        ]
        self.addon = AddOn.objects.create(
            code=f"data{number}",
            name_en="1 GB",
            name_fr="1 Go",
            name_zh_hans="1GB",
            kind=UsageKind.DATA,
            quantity=1024,
            price_cents=1000,
            validity_days=30,
        )
        self.coupons = [
            Coupon.objects.create(
                code=f"FIVE{number}", kind="fixed", amount_off_cents=500, max_uses_total=3
            ),
            Coupon.objects.create(
                code=f"TEN{number}", kind="percent", percent_off=10, max_uses_per_customer=2
            ),
        ]
        serial = 700000 + number
        Number.objects.create(msisdn=f"+1905666{serial % 10000:04d}")
        sim = SimCard.objects.create(iccid=iccid(serial), kind=SimKind.PHYSICAL, location="W")
        self.line = line_services.activate_line(
            self.subscriber,
            self.plans[0],
            kind=SimKind.PHYSICAL,
            acting_user=None,
            sim=sim,
            msisdn=f"+1905666{serial % 10000:04d}",
        )
        self.wallet = ledger.wallet_for(self.subscriber)
        self.balance = 0
        self.period_end = self.line.period_end
        self.sold: list[Sold] = []
        self.keys = itertools.count(1)
        self.last_renewal: tuple[str, dict[str, Any], int] | None = None
        self.pins: list[str] = []
        self.redeemed: set[str] = set()
        if HAS_VOUCHERS:
            vouchers = importlib.import_module("simcare.orders.services.vouchers")
            _batch, issued = vouchers.generate_batch(
                name=f"machine {number}",
                value_cents=VOUCHER_CENTS,
                count=3,
                expires_at=timezone.now() + dt.timedelta(days=365),
                acting_user=None,
            )
            self.pins = [pin for _serial, pin in issued]

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- rules ---------------------------------------------------------------------------

    @rule(amount=st.integers(min_value=500, max_value=20_000))
    def top_up(self, amount: int) -> None:
        if HAS_CARDS:
            order = ordering.place_order(
                kind="wallet_topup",
                channel="web",
                subscriber=self.subscriber,
                payment_method="card",
                idempotency_key=f"machine:top:{next(self.keys)}",
                acting_user=None,
                amount_cents=amount,
            )
            reference = f"cs_machine_{order.pk}"
            for _delivery in range(2):  # the webhook delivered twice settles once
                ordering.settle_order(
                    order, provider="stripe", provider_reference=reference, amount_cents=amount
                )
        else:
            ledger.transfer(
                kind="wallet_topup",
                source=ledger.system_account("clearing:stripe"),
                destination=ledger.wallet_for(self.subscriber),
                amount_cents=amount,
            )
        self.balance += amount

    @rule(
        plan_index=st.integers(min_value=0, max_value=1),
        coupon_index=st.sampled_from([None, 0, 1]),
        periods=st.integers(min_value=1, max_value=3),
    )
    def renew(self, plan_index: int, coupon_index: int | None, periods: int) -> None:
        plan = self.plans[plan_index]
        coupon_code = self.coupons[coupon_index].code if coupon_index is not None else ""
        request = {"plan": plan, "coupon_code": coupon_code, "periods": periods}
        line = Line.objects.get(pk=self.line.pk)
        key = f"machine:renew:{next(self.keys)}"
        try:
            expected = ordering.quote(
                kind="renewal", channel="web", subscriber=self.subscriber, line=line, **request
            ).total_cents
        except errors.CouponRefused:
            self._expect_refusal(errors.CouponRefused, lambda: self._renew(key, request))
            return
        if expected > self.balance:
            self._expect_refusal(errors.WalletShort, lambda: self._renew(key, request))
            return
        order = self._renew(key, request)
        assert (order.state, order.total_cents) == (OrderState.FULFILLED, expected)
        self.balance -= expected
        self.period_end += dt.timedelta(days=plan.validity_days * periods)
        line.refresh_from_db()
        assert line.period_end == self.period_end
        self.sold.append(Sold(order.pk, expected))
        self.last_renewal = (key, request, order.pk)

    @precondition(lambda self: self.last_renewal is not None)
    @rule()
    def send_the_last_renewal_again(self) -> None:
        assert self.last_renewal is not None
        key, request, order_id = self.last_renewal
        before = money_snapshot()
        assert self._renew(key, request).pk == order_id
        assert money_snapshot() == before

    @rule()
    def buy_addon(self) -> None:
        key = f"machine:addon:{next(self.keys)}"
        line = Line.objects.get(pk=self.line.pk)
        expected = ordering.quote(
            kind="addon", channel="web", subscriber=self.subscriber, line=line, addon=self.addon
        ).total_cents

        def buy() -> Order:
            return ordering.place_order(
                kind="addon",
                channel="web",
                subscriber=self.subscriber,
                payment_method="wallet",
                idempotency_key=key,
                acting_user=None,
                addon=self.addon,
                line=line,
            )

        if expected > self.balance:
            self._expect_refusal(errors.WalletShort, buy)
            return
        order = buy()
        assert order.total_cents == expected == 1130
        self.balance -= expected
        self.sold.append(Sold(order.pk, expected))

    @precondition(lambda self: bool(self.sold))
    @rule(data=st.data(), extra=st.integers(min_value=-3000, max_value=1000))
    def refund_to_wallet(self, data: st.DataObject, extra: int) -> None:
        sold = data.draw(st.sampled_from(self.sold), label="refunded order")
        left = sold.total_cents - sold.refunded_cents
        amount = max(1, left + extra)
        key = f"machine:refund:{next(self.keys)}"

        def refund() -> Order:
            return ordering.refund_order(
                Order.objects.get(pk=sold.pk),
                amount_cents=amount,
                to_wallet=True,
                acting_user=None,
                reason="machine",
                idempotency_key=key,
            )

        if amount > left:
            self._expect_refusal(errors.RefundTooLarge, refund)
            return
        order = refund()
        sold.refunded_cents += amount
        assert order.refunded_cents == sold.refunded_cents
        self.balance += amount
        before = money_snapshot()
        refund()  # the same refund again moves nothing
        assert money_snapshot() == before

    @precondition(lambda self: bool(self.pins))
    @rule(data=st.data())
    def redeem_voucher(self, data: st.DataObject) -> None:
        vouchers = importlib.import_module("simcare.orders.services.vouchers")
        pin = data.draw(st.sampled_from(self.pins), label="pin")

        def redeem() -> Any:
            return vouchers.redeem_voucher(
                self.subscriber, pin, ip_address="198.51.100.7", acting_user=None
            )

        if pin in self.redeemed:
            # Refused: a PIN used once (or, after five refusals, the lockout).
            before = money_snapshot()
            try:
                redeem()
            except DomainError:
                pass
            else:
                raise AssertionError("a redeemed voucher was redeemed again")
            assert money_snapshot() == before
            return
        before = money_snapshot()
        try:
            redeem()
        except DomainError as refusal:
            # Only the lockout (five refused PINs within the hour) may refuse a fresh PIN.
            if refusal.code != "voucher_locked":
                raise
            self._same(before)
            return
        self.redeemed.add(pin)
        self.balance += VOUCHER_CENTS

    # --- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _same(before: tuple[Any, ...]) -> None:
        assert money_snapshot() == before

    def _renew(self, key: str, request: dict[str, Any]) -> Order:
        return ordering.renew(
            Line.objects.get(pk=self.line.pk),
            channel="web",
            payment_method="wallet",
            idempotency_key=key,
            acting_user=None,
            **request,
        )

    def _expect_refusal(self, error: type[DomainError], action: Callable[[], Any]) -> None:
        before = money_snapshot()
        line_before = Line.objects.values_list("period_end", "plan_id").get(pk=self.line.pk)
        coupons_before = list(Coupon.objects.order_by("pk").values_list("times_used", flat=True))
        try:
            action()
        except error:
            pass
        else:
            raise AssertionError(f"expected {error.__name__}")
        assert money_snapshot() == before
        assert Line.objects.values_list("period_end", "plan_id").get(pk=self.line.pk) == (
            line_before
        )
        assert (
            list(Coupon.objects.order_by("pk").values_list("times_used", flat=True))
            == coupons_before
        )

    # --- invariants, after every step -------------------------------------------------------

    @invariant()
    def each_transaction_sums_to_zero(self) -> None:
        sums = LedgerEntry.objects.values("transaction").annotate(total=Sum("amount_cents"))
        assert not sums.exclude(total=0).exists()

    @invariant()
    def the_wallet_is_the_model_its_cache_and_its_entries(self) -> None:
        wallet = LedgerAccount.objects.get(pk=self.wallet.pk)
        assert wallet.cached_balance_cents == self.balance
        assert queries.balance_from_entries(wallet) == self.balance

    @invariant()
    def no_wallet_below_its_overdraft_limit(self) -> None:
        for account in LedgerAccount.objects.filter(kind__in=sorted(LIMITED_KINDS)):
            assert account.cached_balance_cents >= -account.overdraft_limit_cents

    @invariant()
    def coupons_count_their_uses(self) -> None:
        for coupon in Coupon.objects.all():
            assert coupon.times_used == coupon.uses.count()
            if coupon.max_uses_total is not None:
                assert coupon.times_used <= coupon.max_uses_total

    @invariant()
    def ledger_verify_is_clean(self) -> None:
        assert queries.find_breaks() == []
        call_command("ledger", "verify", stdout=io.StringIO())


def test_money_invariants_hold_under_random_sequences(db: Any, settings: Any) -> None:
    settings.SIMCARE_STRIPE_SECRET_KEY = "sk_test_machine"
    settings.SIMCARE_STRIPE_WEBHOOK_SECRET = "whsec_test_machine"
    run_state_machine_as_test(
        MoneyMachine,
        settings=hypothesis_settings(
            max_examples=15,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
