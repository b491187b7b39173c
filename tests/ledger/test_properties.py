"""Ledger invariants under random sequences of top-ups, payments, reversals and retries.

A hypothesis state machine keeps its own model of every wallet and checks after each
step: every transaction sums to zero, every wallet equals its model and the sum of its
entries, no wallet is below its overdraft limit, `ledger verify` finds nothing, and a
refused step changed nothing at all.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Sum
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from simcare.accounts import services as account_services
from simcare.ledger import queries, services
from simcare.ledger.errors import (
    AlreadyReversed,
    IdempotencyKeyConflict,
    InsufficientFunds,
    LedgerError,
)
from simcare.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction

from .conftest import LedgerSnapshot, take_snapshot

_usernames = itertools.count(1)

AMOUNTS = st.integers(min_value=1, max_value=5000)
KEYS = st.one_of(st.none(), st.sampled_from(["key-a", "key-b", "key-c"]))


@dataclass(frozen=True)
class Posted:
    """What the model knows of a transaction the machine posted."""

    pk: int
    wallet_pk: int
    wallet_delta: int
    kind: str
    amount_cents: int


class LedgerMachine(RuleBasedStateMachine):
    wallets = Bundle("wallets")

    def __init__(self) -> None:
        super().__init__()
        # Each run starts from an empty ledger and leaves nothing behind.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.clearing = services.system_account("clearing:stripe")
        self.revenue = services.system_account("revenue:plans")
        self.balances: dict[int, int] = {}
        self.limits: dict[int, int] = {}
        self.posted: list[Posted] = []
        self.reversed: set[int] = set()
        self.by_key: dict[str, tuple[Posted, int]] = {}  # key → (posting, wallet pk)

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- rules -----------------------------------------------------------------------

    @precondition(lambda self: len(self.balances) < 3)
    @rule(target=wallets, overdraft_limit=st.sampled_from([0, 0, 500]))
    def open_wallet(self, overdraft_limit: int) -> LedgerAccount:
        number = next(_usernames)
        subscriber = account_services.create_subscriber(
            username=f"machine{number}", password=None, email=f"machine{number}@example.com"
        )
        wallet = services.wallet_for(subscriber)
        if overdraft_limit:
            LedgerAccount.objects.filter(pk=wallet.pk).update(overdraft_limit_cents=overdraft_limit)
            wallet.refresh_from_db()
        self.balances[wallet.pk] = 0
        self.limits[wallet.pk] = overdraft_limit
        return wallet

    @rule(wallet=wallets, amount=AMOUNTS, key=KEYS)
    def top_up(self, wallet: LedgerAccount, amount: int, key: str | None) -> None:
        self._post(wallet, amount, key, kind="wallet_topup", delta=amount)

    @rule(wallet=wallets, amount=AMOUNTS, key=KEYS)
    def spend(self, wallet: LedgerAccount, amount: int, key: str | None) -> None:
        self._post(wallet, amount, key, kind="order_payment", delta=-amount)

    @precondition(lambda self: bool(self.posted))
    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        target = data.draw(st.sampled_from(self.posted), label="reversed")
        before = take_snapshot()
        new_balance = self.balances[target.wallet_pk] - target.wallet_delta
        txn = LedgerTransaction.objects.get(pk=target.pk)

        def reverse() -> LedgerTransaction:
            return services.reverse_transaction(txn, memo="machine")

        if target.pk in self.reversed:
            self._expect_refusal(AlreadyReversed, before, reverse)
        elif new_balance < -self.limits[target.wallet_pk]:
            self._expect_refusal(InsufficientFunds, before, reverse)
        else:
            reversal = reverse()
            assert reversal.reverses_id == target.pk
            self.reversed.add(target.pk)
            self.balances[target.wallet_pk] = new_balance

    # --- the model ---------------------------------------------------------------------

    def _post(
        self, wallet: LedgerAccount, amount: int, key: str | None, *, kind: str, delta: int
    ) -> None:
        before = take_snapshot()
        other = self.clearing if kind == "wallet_topup" else self.revenue
        source, destination = (other, wallet) if delta > 0 else (wallet, other)

        def post() -> LedgerTransaction:
            return services.transfer(
                kind=kind,
                source=source,
                destination=destination,
                amount_cents=amount,
                idempotency_key=key,
            )

        if key is not None and key in self.by_key:
            earlier, earlier_wallet = self.by_key[key]
            if (earlier_wallet, earlier.kind, earlier.amount_cents) == (wallet.pk, kind, amount):
                assert post().pk == earlier.pk
                assert take_snapshot() == before
            else:
                self._expect_refusal(IdempotencyKeyConflict, before, post)
            return
        if self.balances[wallet.pk] + delta < -self.limits[wallet.pk]:
            self._expect_refusal(InsufficientFunds, before, post)
            return
        txn = post()
        posted = Posted(txn.pk, wallet.pk, delta, kind, amount)
        self.posted.append(posted)
        self.balances[wallet.pk] += delta
        if key is not None:
            self.by_key[key] = (posted, wallet.pk)

    def _expect_refusal(
        self,
        error: type[LedgerError],
        before: LedgerSnapshot,
        action: Callable[[], LedgerTransaction],
    ) -> None:
        try:
            action()
        except error:
            pass
        else:
            raise AssertionError(f"expected {error.__name__}")
        assert take_snapshot() == before

    # --- invariants, checked after every step --------------------------------------------

    @invariant()
    def every_transaction_sums_to_zero(self) -> None:
        sums = LedgerEntry.objects.values("transaction").annotate(total=Sum("amount_cents"))
        assert not sums.exclude(total=0).exists()

    @invariant()
    def every_wallet_matches_the_model_and_its_entries(self) -> None:
        for wallet_pk, expected in self.balances.items():
            wallet = LedgerAccount.objects.get(pk=wallet_pk)
            assert queries.balance_cents(wallet) == expected
            assert queries.balance_from_entries(wallet) == expected
            assert expected >= -self.limits[wallet_pk]

    @invariant()
    def the_books_sum_to_zero(self) -> None:
        # Summed as balance_cents reads them: cached for wallets, from entries for the books.
        assert sum(queries.balances_by_code().values()) == 0

    @invariant()
    def verify_finds_nothing(self) -> None:
        assert queries.find_breaks() == []


def test_ledger_invariants_hold_under_random_postings(db: Any) -> None:
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(max_examples=25, stateful_step_count=20, deadline=None),
    )
